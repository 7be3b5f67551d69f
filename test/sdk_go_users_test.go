package test

import (
	"net/http"
	"strings"
	"testing"
)

// TestGoLibraryUserSessions: the Go library's DestroyOthers and DestroyAll,
// from sdk/go/example behind the real proxy with session.userKey, log a
// user out of their other devices and out of everywhere; another user's
// session is left alone. Without session.userKey the proxy refuses both
// with 502 and applies nothing, so the button cannot silently do nothing.
// The example runs with a token header of its own, so the directives must
// be named after it.
func TestGoLibraryUserSessions(t *testing.T) {
	t.Parallel()
	up := startGoExample(t, []string{"UPSTREAM_HEADER=" + appHeader})
	cfg := func() config {
		return baseConfig(up).set("store.type", "memory").set("token.header", appHeader)
	}
	type step struct {
		who    string // the browser: phone and laptop are ann's, desk is bob's
		path   string
		status int
		users  map[string]string // each browser's user.id afterwards; "" is logged out
	}
	login := func(who, id string, users map[string]string) step {
		return step{who, "/signin?id=" + id, http.StatusOK, users}
	}
	tests := []struct {
		name  string
		cfg   config
		steps []step
	}{
		{"with session.userKey", cfg().set("session.userKey", "user.id"), []step{
			login("phone", "ann", map[string]string{"phone": "ann", "laptop": "", "desk": ""}),
			login("laptop", "ann", map[string]string{"phone": "ann", "laptop": "ann", "desk": ""}),
			login("desk", "bob", map[string]string{"phone": "ann", "laptop": "ann", "desk": "bob"}),
			{"phone", "/logout-others", http.StatusOK, map[string]string{"phone": "ann", "laptop": "", "desk": "bob"}},
			login("laptop", "ann", map[string]string{"phone": "ann", "laptop": "ann", "desk": "bob"}),
			{"laptop", "/logout-all", http.StatusOK, map[string]string{"phone": "", "laptop": "", "desk": "bob"}},
		}},
		{"without session.userKey: 502, nothing applied", cfg(), []step{
			login("phone", "ann", map[string]string{"phone": "ann", "laptop": ""}),
			login("laptop", "ann", map[string]string{"phone": "ann", "laptop": "ann"}),
			{"phone", "/logout-others", http.StatusBadGateway, map[string]string{"phone": "ann", "laptop": "ann"}},
			{"phone", "/logout-all", http.StatusBadGateway, map[string]string{"phone": "ann", "laptop": "ann"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, tc.cfg)
			clients := map[string]*http.Client{}
			for _, who := range []string{"phone", "laptop", "desk"} {
				clients[who] = newClient(t)
			}
			for i, s := range tc.steps {
				resp, body := get(t, clients[s.who], p.URL+s.path)
				if resp.StatusCode != s.status {
					t.Fatalf("step %d: %s GET %s: status %d (%q), want %d", i, s.who, s.path, resp.StatusCode, body, s.status)
				}
				noDirectives(t, resp, s.path)
				for who, id := range s.users {
					status, want := http.StatusNoContent, ""
					if id != "" {
						status, want = http.StatusOK, `{"id":"`+id+`"}`
					}
					resp, body := get(t, clients[who], p.URL+"/get")
					if got := strings.TrimSpace(body); resp.StatusCode != status || got != want {
						t.Errorf("after step %d (%s GET %s): %s's /get: %d %q, want %d %q", i, s.who, s.path, who, resp.StatusCode, got, status, want)
					}
				}
			}
		})
	}
}
