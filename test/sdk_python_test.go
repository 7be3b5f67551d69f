package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// TestPythonSDK runs the examples written with sdk/python (Flask's own
// session, and the WSGI middleware under a plain WSGI app) behind the real
// binary with the Redis store: koa-session's seed flow, a renew after
// login, a one-key change, two requests of one session in flight at once
// that change different keys, and a forged token refused by the app.
func TestPythonSDK(t *testing.T) {
	t.Parallel()
	for name, script := range map[string]string{
		"flask": "../examples/flask/app.py",
		"wsgi":  "../examples/wsgi/app.py",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := startPythonExample(t, script)
			p := startProxy(t, redisConfig(up, redistest.Start(t).Addr))
			t.Run("seed", func(t *testing.T) { pythonSeedFlow(t, p) })
			t.Run("renew after login", func(t *testing.T) { pythonLogin(t, p) })
			t.Run("one key", func(t *testing.T) { pythonOneKey(t, p) })
			t.Run("concurrent keys", func(t *testing.T) { pythonConcurrentKeys(t, p) })
			t.Run("forged token", func(t *testing.T) { pythonForgedToken(t, up) })
		})
	}
}

// startPythonExample runs an example app with sdk/python on its path and
// returns its base URL.
func startPythonExample(t *testing.T, script string) string {
	t.Helper()
	sdk, err := filepath.Abs("../sdk/python")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"UPSTREAM_SECRET=" + testSecret, "PYTHONPATH=" + sdk}
	_, m := startProcess(t, listeningOn, env, pythonPath(t), script, "--port", "0")
	return "http://" + m[1]
}

const johnDoe = `{"age":30,"name":"john doe"}`

// pythonSeedFlow is SPEC §1 with a server-side store: after /renew the old
// cookie no longer finds the session.
func pythonSeedFlow(t *testing.T, p *proxy) {
	c := newClient(t)
	if resp, body := get(t, c, p.URL+"/get"); resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("/get before /set: %d %q, want an empty 204", resp.StatusCode, body)
	}
	resp, body := get(t, c, p.URL+"/set")
	if body != "session set" || len(sessionCookies(resp, "koa.sess")) == 0 {
		t.Fatalf("/set: body %q, cookies %v; want a session cookie", body, resp.Header["Set-Cookie"])
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, johnDoe) {
		t.Fatalf("/get after /set: %q, want %s", body, johnDoe)
	}
	old := jarCookie(t, c, p.URL)
	if resp, _ := get(t, c, p.URL+"/renew"); len(sessionCookies(resp, "koa.sess")) == 0 {
		t.Fatalf("/renew set no cookie: %v", resp.Header["Set-Cookie"])
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, johnDoe) {
		t.Fatalf("/get after /renew: %q, want the same data %s", body, johnDoe)
	}
	if jarCookie(t, c, p.URL) == old {
		t.Error("/renew kept the cookie")
	}
	if resp, body := get(t, http.DefaultClient, p.URL+"/get", "Cookie: koa.sess="+old); resp.StatusCode != http.StatusNoContent {
		t.Errorf("the cookie from before /renew still finds the session: %d %q", resp.StatusCode, body)
	}
	resp, _ = get(t, c, p.URL+"/destroy")
	if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
		t.Fatalf("/destroy did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	if resp, body := get(t, c, p.URL+"/get"); resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("/get after /destroy: %d %q, want an empty 204", resp.StatusCode, body)
	}
}

// pythonLogin: a route that sets the user and renews in one response
// keeps the session's other data under a new id.
func pythonLogin(t *testing.T, p *proxy) {
	c := newClient(t)
	wantViews(t, c, p.URL+"/count", 1)
	before := jarCookie(t, c, p.URL)
	if _, body := get(t, c, p.URL+"/login?name=jo"); body != "logged in" {
		t.Fatalf("/login: %q", body)
	}
	if jarCookie(t, c, p.URL) == before {
		t.Error("/login did not renew the cookie")
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, `{"name":"jo","age":30}`) {
		t.Errorf("/get after /login: %q", body)
	}
	wantViews(t, c, p.URL+"/count", 2)
	if resp, body := get(t, http.DefaultClient, p.URL+"/get", "Cookie: koa.sess="+before); resp.StatusCode != http.StatusNoContent {
		t.Errorf("the cookie from before /login still finds the session: %d %q", resp.StatusCode, body)
	}
}

// pythonOneKey: a route that changes one key leaves the others alone.
func pythonOneKey(t *testing.T, p *proxy) {
	c := newClient(t)
	get(t, c, p.URL+"/set")
	for want := 1; want <= 3; want++ {
		wantViews(t, c, p.URL+"/count", want)
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, johnDoe) {
		t.Errorf("/get after /count: %q, want %s", body, johnDoe)
	}
}

// pythonConcurrentKeys: two requests of one session, in flight at once,
// each change a different key through the library; both changes survive,
// because each sends only its own key. The slower one ends last, so a
// library that sent the whole session would put back the other's old value.
func pythonConcurrentKeys(t *testing.T, p *proxy) {
	c := newClient(t)
	get(t, c, p.URL+"/set")
	wantViews(t, c, p.URL+"/count", 1)
	get(t, c, p.URL+"/cart/add?item=w")
	paths := []string{"/count?ms=400", "/cart/add?item=x&ms=1000"}
	var wg sync.WaitGroup
	var spans [2][2]time.Time
	for i, path := range paths {
		wg.Go(func() {
			spans[i][0] = time.Now()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.URL+path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("GET %s: %v", path, err)
				return
			}
			resp.Body.Close()
			spans[i][1] = time.Now()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if !(spans[0][0].Before(spans[1][1]) && spans[1][0].Before(spans[0][1])) {
		t.Fatalf("the two requests did not overlap: %v", spans)
	}
	wantViews(t, c, p.URL+"/count", 3)
	_, body := get(t, c, p.URL+"/cart/add?item=y")
	if !sameJSON(t, body, `{"cart":["w","x","y"]}`) {
		t.Errorf("/cart/add after the concurrent requests: %q, want both items", body)
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, johnDoe) {
		t.Errorf("/get after the concurrent requests: %q, want %s", body, johnDoe)
	}
}

// pythonForgedToken: the app itself, hit directly, refuses a token signed
// with another secret (and no token at all) with 401.
func pythonForgedToken(t *testing.T, up string) {
	sign := func(secret string) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false,
			"iss": "sessionproxy", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := &http.Client{Timeout: 15 * time.Second}
	if resp, body := get(t, c, up+"/get", "X-Session: "+sign("another-secret-0123456789abcdef0123")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token signed with another secret: %d %q, want 401", resp.StatusCode, body)
	}
	if resp, body := get(t, c, up+"/get"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d %q, want 401", resp.StatusCode, body)
	}
	// The same token with the proxy's secret is accepted: the 401s were the signature.
	if resp, body := get(t, c, up+"/get", "X-Session: "+sign(testSecret)); resp.StatusCode != http.StatusOK || !sameJSON(t, body, `{"name":"admin"}`) {
		t.Errorf("a genuine token: %d %q, want 200 with its user", resp.StatusCode, body)
	}
}

// wantViews GETs a /count URL and checks the views it reports.
func wantViews(t *testing.T, c *http.Client, u string, want int) {
	t.Helper()
	resp, body := get(t, c, u)
	var got struct{ Views int }
	if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != http.StatusOK || err != nil || got.Views != want {
		t.Fatalf("GET %s: %d %q, want views %d", u, resp.StatusCode, body, want)
	}
}

// jarCookie returns the session cookie's value in c's jar for base.
func jarCookie(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "koa.sess" {
			return ck.Value
		}
	}
	t.Fatalf("no koa.sess cookie in the jar for %s", base)
	return ""
}
