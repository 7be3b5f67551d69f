package config

import (
	"strings"
	"testing"
)

func TestRoutesAndOverwrite(t *testing.T) {
	const base = `
upstream: http://127.0.0.1:8080
keys: [koa-key]
token: {secret: 0123456789abcdef0123456789abcdef}
session: {format: koa}
`
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{name: "forwardCookie with koa", yaml: base + "routes: [{path: /legacy/, upstream: 'http://127.0.0.1:3001', forwardCookie: true}]"},
		{name: "path must be absolute", yaml: base + "routes: [{path: legacy/}]", wantErr: `routes[0].path: "legacy/" must start with /`},
		{name: "duplicate path", yaml: base + "routes: [{path: /a/}, {path: /a/}]", wantErr: `routes[1].path: "/a/" is already`},
		{name: "bad upstream", yaml: base + "routes: [{path: /a/, upstream: 'ftp://x'}]", wantErr: "routes[0].upstream:"},
		{name: "typo", yaml: base + "routes: [{path: /a/, forwardCookies: true}]", wantErr: "unknown key routes[0].forwardCookies"},
		{name: "forwardCookie needs koa", yaml: strings.Replace(base, "{format: koa}", "{format: secure}", 1) + "routes: [{path: /a/, forwardCookie: true}]",
			wantErr: "routes[0].forwardCookie: needs session.format koa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), func(string) (string, bool) { return "", false })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Parse error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	c, err := Parse([]byte(strings.Replace(base, "{format: koa}", "{format: koa, overwrite: false}", 1)), nil)
	if err != nil || c.Session.Overwrite {
		t.Errorf("overwrite: false gave %v, %v", c.Session.Overwrite, err)
	}
	if !Default().Session.Overwrite {
		t.Error("overwrite defaults to false, want koa's true")
	}
}
