package test

import (
	"net/http"
	"testing"
)

// TestNodeLibraryEndsAUsersSessions: the Koa, Express and Fastify
// examples' calls of destroyOthers() and destroyAll() (sdk/node), behind
// the proxy with session.userKey, end the sessions of the user logged in
// from another browser and keep, or end, this one; without
// session.userKey the proxy refuses them with a 502 rather than doing
// nothing.
func TestNodeLibraryEndsAUsersSessions(t *testing.T) {
	t.Parallel()
	for _, lib := range appLibraries {
		if lib.name != "koa" && lib.name != "express" && lib.name != "fastify" {
			continue
		}
		t.Run(lib.name, func(t *testing.T) {
			t.Parallel()
			var env []string
			cfg := baseConfig("").set("store.type", "memory")
			if lib.header != "" {
				env = append(env, "UPSTREAM_HEADER="+lib.header)
				cfg = cfg.set("token.header", lib.header)
			}
			up := lib.start(t, env)
			noUsers := startProxy(t, cfg.set("upstream", up))
			p := startProxy(t, cfg.set("upstream", up).set("session.userKey", "user.name"))
			a := app{appLibrary: lib, up: up, proxy: p.URL, full: true}
			const ann = `{"user":{"name":"ann","age":30}}`

			here, there := newClient(t), newClient(t)
			login := func(c *http.Client, route string) {
				t.Helper()
				wantGet(t, c, a.proxy+route, http.StatusOK, map[string]string{
					"/login?name=ann":            "logged in",
					"/login-end-others?name=ann": "logged in here only",
				}[route])
				a.wantWhoami(t, c, a.proxy, false, ann)
			}

			// Log out my other devices: this one stays, as it was.
			login(here, "/login?name=ann")
			login(there, "/login?name=ann")
			sid := a.wantWhoami(t, here, a.proxy, false, ann).sid(t)
			wantGet(t, here, a.proxy+"/logout-others", http.StatusOK, "other sessions ended")
			a.wantWhoami(t, there, a.proxy, true, `{}`)
			if got := a.wantWhoami(t, here, a.proxy, false, ann).sid(t); got != sid {
				t.Errorf("/logout-others changed this session's id from %q to %q", sid, got)
			}

			// Log out everywhere: this one too.
			login(there, "/login?name=ann")
			wantGet(t, here, a.proxy+"/logout-all", http.StatusOK, "all sessions ended")
			a.wantWhoami(t, here, a.proxy, true, `{}`)
			a.wantWhoami(t, there, a.proxy, true, `{}`)

			// A login that ends the user's earlier sessions: the user is
			// the one it sets, not the anonymous session it started from.
			login(here, "/login?name=ann")
			login(there, "/login-end-others?name=ann")
			a.wantWhoami(t, here, a.proxy, true, `{}`)
			a.wantWhoami(t, there, a.proxy, false, ann)

			// Without session.userKey, never a silent no-op.
			for _, route := range []string{"/logout-others", "/logout-all"} {
				if resp, body := get(t, newClient(t), noUsers.URL+route); resp.StatusCode != http.StatusBadGateway {
					t.Errorf("GET %s without session.userKey: %d %q, want 502", route, resp.StatusCode, body)
				}
			}
		})
	}
}
