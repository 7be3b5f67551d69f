package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy/admin"
	"github.com/sessionproxy/sessionproxy/session"
)

const token = "an-admin-token-0123456789"

// login saves a session for user through m and returns its cookie.
func login(t *testing.T, m *session.Manager, user string) []*http.Cookie {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := m.Load(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, session.Change{Set: [][]byte{[]byte(`{"user":{"id":"` + user + `"}}`)}}, h); err != nil {
		t.Fatal(err)
	}
	return (&http.Response{Header: h}).Cookies()
}

func alive(t *testing.T, m *session.Manager, cookies []*http.Cookie) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	s, err := m.Load(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return !s.IsNew
}

func TestSessionsAPI(t *testing.T) {
	store := session.NewMemoryStore(session.MemoryOptions{})
	m, err := session.New(session.Options{Keys: []string{"key-one-0123456789abcdef0123456789abcdef"}, Store: store, Users: store, UserKey: "user.id", IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	admin.Register(mux, admin.Options{Sessions: m, Token: token})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, auth string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, body
	}
	bearer := "Bearer " + token

	a1, a2, b := login(t, m, "ann"), login(t, m, "ann"), login(t, m, "bob")

	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		errPart                  string
	}{
		{"no token", "GET", "/sessions?user=ann", "", 401, "Bearer"},
		{"wrong token", "GET", "/sessions?user=ann", "Bearer nope", 401, "Bearer"},
		{"not bearer", "GET", "/sessions?user=ann", "Basic " + token, 401, "Bearer"},
		{"no user", "GET", "/sessions", bearer, 400, "user query parameter"},
		{"no user to delete", "DELETE", "/sessions", bearer, 400, "user query parameter"},
		{"bad handle", "DELETE", "/sessions/xyz", bearer, 400, "not a session handle"},
		{"GET a handle", "GET", "/sessions/xyz", bearer, 405, "use DELETE"},
		{"POST sessions", "POST", "/sessions?user=ann", bearer, 405, "use GET, HEAD, DELETE"},
		{"no handle", "DELETE", "/sessions/", bearer, 404, "no such path"},
		{"GET no handle", "GET", "/sessions/", "", 404, "no such path"},
		{"more than a handle", "DELETE", "/sessions/a/b", bearer, 404, "no such path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.auth)
			if msg, _ := body["error"].(string); status != tc.status || !strings.Contains(msg, tc.errPart) {
				t.Errorf("%d %v, want %d with an error naming %q", status, body, tc.status, tc.errPart)
			}
		})
	}

	status, body := do("GET", "/sessions?user=ann", bearer)
	list, _ := body["sessions"].([]any)
	if status != 200 || len(list) != 2 || body["user"] != "ann" {
		t.Fatalf("GET: %d %v, want ann's 2 sessions", status, body)
	}
	first := list[0].(map[string]any)
	for _, k := range []string{"handle", "created", "lastUsed", "expires"} {
		if first[k] == nil || first[k] == "" {
			t.Errorf("a listed session has no %s: %v", k, first)
		}
	}
	handle := first["handle"].(string)
	if status, body := do("DELETE", "/sessions/"+handle, bearer); status != 200 || body["ended"] != 1.0 {
		t.Errorf("DELETE handle: %d %v", status, body)
	}
	if status, body := do("DELETE", "/sessions/"+handle, bearer); status != 404 {
		t.Errorf("DELETE the same handle again: %d %v, want 404", status, body)
	}
	if alive(t, m, a1) == alive(t, m, a2) {
		t.Error("DELETE /sessions/HANDLE should end exactly one of ann's sessions")
	}
	if status, body := do("DELETE", "/sessions?user=ann", bearer); status != 200 || body["ended"] != 1.0 {
		t.Errorf("DELETE user: %d %v, want 1 ended", status, body)
	}
	if alive(t, m, a1) || alive(t, m, a2) || !alive(t, m, b) {
		t.Error("after DELETE /sessions?user=ann: ann must be logged out everywhere, bob not")
	}
	if status, body := do("GET", "/sessions?user=ann", bearer); status != 200 || len(body["sessions"].([]any)) != 0 {
		t.Errorf("GET after the logout: %d %v, want no sessions", status, body)
	}
}

func TestSessionsAPIWithoutUserIndex(t *testing.T) {
	m, err := session.New(session.Options{Keys: []string{"key-one-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	admin.Register(mux, admin.Options{Sessions: m})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:9090/sessions?user=ann", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "session.userKey") {
		t.Errorf("%d %s, want 404 naming session.userKey", rec.Code, rec.Body)
	}
}

// Without a token the API serves only requests addressed to localhost or
// an IP address: a page rebound to 127.0.0.1 sends its own name as Host.
func TestSessionsAPIWithoutTokenRefusesOtherHosts(t *testing.T) {
	store := session.NewMemoryStore(session.MemoryOptions{})
	m, err := session.New(session.Options{Keys: []string{"key-one-0123456789abcdef0123456789abcdef"}, Store: store, Users: store, UserKey: "user.id"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token, host string
		want        int
	}{
		{"", "127.0.0.1:9090", 200},
		{"", "localhost:9090", 200},
		{"", "[::1]:9090", 200},
		{"", "LOCALHOST", 200},
		{"", "evil.example:9090", 403},
		{"", "127.0.0.1.nip.io:9090", 403},
		{token, "evil.example:9090", 200}, // the token is the check then
	} {
		mux := http.NewServeMux()
		admin.Register(mux, admin.Options{Sessions: m, Token: tc.token})
		req := httptest.NewRequest("GET", "/sessions?user=ann", nil)
		req.Host = tc.host
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("token %v, Host %s: %d %s, want %d", tc.token != "", tc.host, rec.Code, rec.Body, tc.want)
		}
	}
}

// Without a token, a DELETE that a browser sent from another origin is
// refused (a page on any site could send one to the loopback listener:
// CSRF), while curl and scripts, which send no Origin, and the API's own
// origin keep working. With a token, which no page can forge, the token
// is the check.
func TestSessionsAPIWithoutTokenRefusesCrossOriginChanges(t *testing.T) {
	store := session.NewMemoryStore(session.MemoryOptions{})
	m, err := session.New(session.Options{Keys: []string{"key-one-0123456789abcdef0123456789abcdef"}, Store: store, Users: store, UserKey: "user.id"})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(tok string) *httptest.Server {
		mux := http.NewServeMux()
		admin.Register(mux, admin.Options{Sessions: m, Token: tok})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	tokenless, withToken := serve(""), serve(token)
	for _, tc := range []struct {
		name, method, origin, fetchSite string
		srv                             *httptest.Server
		want                            int
		errPart                         string
	}{
		{"curl", "DELETE", "", "", tokenless, 200, ""},
		{"its own origin", "DELETE", tokenless.URL, "same-origin", tokenless, 200, ""},
		{"its own origin, an old browser", "DELETE", tokenless.URL, "", tokenless, 200, ""},
		{"typed in the address bar", "DELETE", "", "none", tokenless, 200, ""},
		{"another site", "DELETE", "https://evil.example", "cross-site", tokenless, 403, "Sec-Fetch-Site: cross-site"},
		{"a sibling site", "DELETE", "https://app.localhost", "same-site", tokenless, 403, "Sec-Fetch-Site: same-site"},
		{"another site, an old browser", "DELETE", "https://evil.example", "", tokenless, 403, `Origin "https://evil.example" is not its Host`},
		{"another port, an old browser", "DELETE", "http://127.0.0.1:1", "", tokenless, 403, "is not its Host"},
		{"a sandboxed page", "DELETE", "null", "", tokenless, 403, `Origin "null"`},
		{"a read from another site", "GET", "https://evil.example", "cross-site", tokenless, 200, ""},
		{"another site, with the token", "DELETE", "https://evil.example", "cross-site", withToken, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.srv.URL+"/sessions?user=ann", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tc.fetchSite)
			}
			if tc.srv == withToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("%d, not JSON: %v", resp.StatusCode, err)
			}
			if msg, _ := body["error"].(string); resp.StatusCode != tc.want || !strings.Contains(msg, tc.errPart) {
				t.Errorf("%d %v, want %d with an error naming %q", resp.StatusCode, body, tc.want, tc.errPart)
			}
		})
	}
}
