package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// The Node library (sdk/node) proven behind the real proxy: the Koa and
// Express examples in examples/koa and examples/express, written with
// sessionproxy.koa and sessionproxy.express. sdk/node/test.sh installs
// their pinned packages (npm ci).

// startNodeExample runs examples/<name>/app.js with the test secret and
// returns its base URL.
func startNodeExample(t *testing.T, name string) string {
	t.Helper()
	node := requireTool(t, "node")
	dir := "../examples/" + name
	for _, pkg := range []string{name, "sessionproxy"} {
		if _, err := os.Stat(dir + "/node_modules/" + pkg + "/package.json"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed in examples/%s (sdk/node/test.sh runs npm ci): %v", pkg, name, err)
			}
			t.Skipf("%s not installed in examples/%s; run sdk/node/test.sh", pkg, name)
		}
	}
	_, m := startProcess(t, listeningOn, []string{"UPSTREAM_SECRET=" + testSecret}, node, dir+"/app.js", "0")
	return "http://" + m[1]
}

// whoami is what the examples' /whoami answers.
type whoami struct {
	SID     *string        `json:"sid"`
	Session map[string]any `json:"session"`
}

func getWhoami(t *testing.T, c *http.Client, base string) whoami {
	t.Helper()
	resp, body := get(t, c, base+"/whoami")
	var w whoami
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &w) != nil {
		t.Fatalf("/whoami: %d %q", resp.StatusCode, body)
	}
	return w
}

// sessionJSON is the session data of w as JSON, for sameJSON.
func (w whoami) sessionJSON(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(w.Session)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hs256 signs claims as an HS256 JWT with secret.
func hs256(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestNodeExamples(t *testing.T) {
	t.Parallel()
	const user = `{"age":30,"name":"john doe"}`
	for _, name := range []string{"koa", "express"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := startNodeExample(t, name)
			p := startProxy(t, redisConfig(up, redistest.Start(t).Addr))

			t.Run("seed", func(t *testing.T) {
				c := newClient(t)
				if resp, body := get(t, c, p.URL+"/get"); resp.StatusCode != http.StatusNoContent || body != "" {
					t.Fatalf("/get before /set: %d %q, want an empty 204", resp.StatusCode, body)
				}
				resp, body := get(t, c, p.URL+"/set")
				if body != "session set" || len(sessionCookies(resp, "koa.sess")) == 0 {
					t.Fatalf("/set: %q, cookies %v; want a session cookie", body, resp.Header["Set-Cookie"])
				}
				if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, user) {
					t.Fatalf("/get after /set: %q, want %s", body, user)
				}
				before := getWhoami(t, c, p.URL)
				resp, body = get(t, c, p.URL+"/renew")
				if body != "session renewed" || len(sessionCookies(resp, "koa.sess")) == 0 {
					t.Fatalf("/renew: %q, cookies %v", body, resp.Header["Set-Cookie"])
				}
				after := getWhoami(t, c, p.URL)
				if after.SID == nil || before.SID == nil || *after.SID == *before.SID {
					t.Errorf("/renew: session id %v -> %v, want a new one", before.SID, after.SID)
				}
				if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, user) {
					t.Fatalf("/get after /renew: %q, want %s", body, user)
				}
				resp, _ = get(t, c, p.URL+"/destroy")
				if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
					t.Fatalf("/destroy did not clear the cookie: %v", resp.Header["Set-Cookie"])
				}
				if resp, body := get(t, c, p.URL+"/get"); resp.StatusCode != http.StatusNoContent || body != "" {
					t.Fatalf("/get after /destroy: %d %q, want an empty 204", resp.StatusCode, body)
				}
			})

			// koa: the tutorial's ctx.sessionHandler.regenerateId();
			// express: express-session's regenerate(cb).
			t.Run("renew after login", func(t *testing.T) {
				c := newClient(t)
				get(t, c, p.URL+"/put/cart/1")
				anon := getWhoami(t, c, p.URL)
				proxyURL, _ := url.Parse(p.URL)
				oldCookies := c.Jar.Cookies(proxyURL)
				if _, body := get(t, c, p.URL+"/login"); body != "logged in" {
					t.Fatalf("/login: %q", body)
				}
				in := getWhoami(t, c, p.URL)
				if in.SID == nil || anon.SID == nil || *in.SID == *anon.SID {
					t.Errorf("/login: session id %v -> %v, want a new one", anon.SID, in.SID)
				}
				if want := `{"cart":"1","user":` + user + `}`; !sameJSON(t, in.sessionJSON(t), want) {
					t.Errorf("after /login: %s, want %s", in.sessionJSON(t), want)
				}
				// The id from before the login no longer works.
				old := plainClient()
				req, _ := http.NewRequest(http.MethodGet, p.URL+"/whoami", nil)
				for _, ck := range oldCookies {
					req.AddCookie(ck)
				}
				resp, err := old.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var w whoami
				err = json.NewDecoder(resp.Body).Decode(&w)
				resp.Body.Close()
				if err != nil || len(w.Session) != 0 {
					t.Errorf("the pre-login cookie still opens a session: %v (%v)", w.Session, err)
				}
			})

			t.Run("one key", func(t *testing.T) {
				c := newClient(t)
				get(t, c, p.URL+"/set")
				if _, body := get(t, c, p.URL+"/put/color/blue"); body != "put color" {
					t.Fatalf("/put: %q", body)
				}
				if w, want := getWhoami(t, c, p.URL), `{"color":"blue","user":`+user+`}`; !sameJSON(t, w.sessionJSON(t), want) {
					t.Errorf("after /put: %s, want %s", w.sessionJSON(t), want)
				}
			})

			// Two requests of one session in flight at once, each changing
			// its own key: each sends only its key, so both survive.
			t.Run("concurrent keys", func(t *testing.T) {
				c := newClient(t)
				get(t, c, p.URL+"/set")
				var wg sync.WaitGroup
				start := time.Now()
				for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}} {
					wg.Go(func() {
						resp, err := c.Get(p.URL + "/put/" + kv[0] + "/" + kv[1] + "?delay=400")
						if err != nil {
							t.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							t.Errorf("/put/%s: status %d", kv[0], resp.StatusCode)
						}
					})
				}
				wg.Wait()
				if d := time.Since(start); d > 800*time.Millisecond {
					t.Logf("the two requests took %v: they may not have overlapped", d)
				}
				if w, want := getWhoami(t, c, p.URL), `{"a":"1","b":"2","user":`+user+`}`; !sameJSON(t, w.sessionJSON(t), want) {
					t.Errorf("after two concurrent /put: %s, want %s", w.sessionJSON(t), want)
				}
			})

			// Straight to the upstream, past the proxy.
			t.Run("forged token", func(t *testing.T) {
				c := plainClient()
				now := time.Now().Unix()
				claims := map[string]any{"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false, "iss": "sessionproxy", "iat": now, "exp": now + 60}
				if resp, body := get(t, c, up+"/get", "X-Session: "+hs256(t, "another-secret-0123456789abcdef", claims)); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("a token signed with another secret: %d %q, want 401", resp.StatusCode, body)
				}
				if resp, _ := get(t, c, up+"/get"); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("no token: %d, want 401", resp.StatusCode)
				}
				// The same claims signed with the right secret are accepted:
				// the 401 was the signature's.
				if resp, body := get(t, c, up+"/get", "X-Session: "+hs256(t, testSecret, claims)); resp.StatusCode != http.StatusOK || !sameJSON(t, body, `{"name":"admin"}`) {
					t.Errorf("a token signed with the test secret: %d %q", resp.StatusCode, body)
				}
			})
		})
	}
}
