package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/config"
)

// parseWith parses a config made of extra, with the keys and token of a
// valid one where extra has none.
func parseWith(t *testing.T, extra string) (config.Config, error) {
	t.Helper()
	y := "upstream: http://127.0.0.1:8080\n" + extra + "\n"
	if !strings.Contains(extra, "keys:") {
		y += `keys: ["0123456789abcdef0123456789abcdef"]` + "\n"
	}
	if !strings.Contains(extra, "token:") {
		y += "token: {secret: an-upstream-secret-of-at-least-32-chars}\n"
	} else if !strings.Contains(extra, "secret:") {
		y = strings.Replace(y, "token: {", "token: {secret: an-upstream-secret-of-at-least-32-chars, ", 1)
	}
	return config.Parse([]byte(y), func(string) (string, bool) { return "", false })
}

func TestEdgesOfTheDeployment(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		err  string // a substring of the error; "" for none
	}{
		{"trusted proxies", `server: {trustedProxies: ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]}`, ""},
		{"bad trusted proxy", `server: {trustedProxies: ["10.0.0.0/8", "10.0.0.300/8"]}`, `server.trustedProxies[1]: "10.0.0.300/8" is not a CIDR or an IP address`},
		{"tls", `server: {tls: {certFile: /etc/tls/cert.pem, keyFile: /etc/tls/key.pem}}`, ""},
		{"tls without key", `server: {tls: {certFile: /etc/tls/cert.pem}}`, "server.tls.keyFile: is required with server.tls.certFile"},
		{"tls without cert", `server: {tls: {keyFile: /etc/tls/key.pem}}`, "server.tls.certFile: is required with server.tls.keyFile"},
		{"body idle off", `server: {bodyIdleTimeout: 0s}`, ""},
		{"body idle negative", `server: {bodyIdleTimeout: -1s}`, "server.bodyIdleTimeout: must be >= 0"},
		{"conns cap", `server: {maxConnsPerUpstream: 64}`, ""},
		{"conns cap negative", `server: {maxConnsPerUpstream: -1}`, "server.maxConnsPerUpstream: must be >= 0"},
		{"sameSite none, secure auto, no way to know", `session: {sameSite: none, secure: auto}`, `session.sameSite: "none" with session.secure auto needs server.tls or server.trustedProxies`},
		{"sameSite none, secure auto over TLS", "session: {sameSite: none, secure: auto}\nserver: {tls: {certFile: c.pem, keyFile: k.pem}}", ""},
		{"sameSite none, secure auto behind a proxy", "session: {sameSite: none, secure: auto}\nserver: {trustedProxies: [10.0.0.0/8]}", ""},
		{"sameSite none, secure true", `session: {sameSite: none, secure: true}`, ""},
		{"sameSite none, secure false", `session: {sameSite: none, secure: false}`, `session.sameSite: "none" needs session.secure`},
		{"token secret is a cookie key", `token: {secret: "0123456789abcdef0123456789abcdef"}`, "token.secret: must differ from every cookie key"},
		{"token secret is the second key", `keys: ["0123456789abcdef0123456789abcdef", "another-key-of-32-characters-long"]` + "\n" + `token: {secret: "another-key-of-32-characters-long"}`, "token.secret: must differ from every cookie key (it is keys[1])"},
		{"token ttl too short", `token: {ttl: 500ms}`, "token.ttl: must be between 1s and 1h0m0s"},
		{"token ttl too long", `token: {ttl: 2h}`, "token.ttl: must be between 1s and 1h0m0s"},
		{"token ttl bounds", "token: {ttl: 1h}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWith(t, tc.yaml)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestEdgeDefaults(t *testing.T) {
	c := config.Default()
	if d := time.Duration(c.Server.BodyIdleTimeout); d <= 0 || d > time.Minute {
		t.Errorf("server.bodyIdleTimeout defaults to %v, want on and at most a minute", d)
	}
	if c.Server.MaxConnsPerUpstream != 0 || len(c.Server.TrustedProxies) != 0 || c.Server.TLS != (config.ServerTLS{}) {
		t.Errorf("server defaults %+v, want no cap, no trusted proxies, no TLS", c.Server)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings, one per warning
	}{
		{"secure format", "", nil},
		{"koa, long keys", `session: {format: koa}` + "\nkeys: [\"0123456789abcdef0123456789abcdef\"]", nil},
		{"koa, short keys", `session: {format: koa}` + "\nkeys: [\"0123456789abcdef0123456789abcdef\", \"a\"]",
			[]string{"keys[1]: 1 characters: a koa-format signature made with a key this short can be brute-forced"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseWith(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want one containing %q", got[i], w)
				}
			}
		})
	}
}
