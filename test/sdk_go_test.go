package test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// goSDKExample is the Go library's example upstream (sdk/go/example),
// built once with go build in the library's own module (the root module
// does not import it), next to the proxy's binary, which TestMain removes.
var goSDKExample struct {
	once sync.Once
	path string
	err  error
}

// startGoSDKExample runs the Go library's example upstream with the test
// secret and returns its base URL.
func startGoSDKExample(t *testing.T) string {
	t.Helper()
	return startGoSDKExampleEnv(t, "UPSTREAM_SECRET="+testSecret)
}

// startGoSDKExampleEnv runs the Go library's example upstream with env
// (UPSTREAM_SECRET, UPSTREAM_JWKS_URL, UPSTREAM_AUDIENCE) and returns its
// base URL.
func startGoSDKExampleEnv(t *testing.T, env ...string) string {
	t.Helper()
	goSDKExample.once.Do(func() {
		goSDKExample.path = filepath.Join(filepath.Dir(binary), "sdk-go-example")
		build := exec.Command("go", "build", "-o", goSDKExample.path, "./example")
		build.Dir = filepath.Join("..", "sdk", "go")
		if out, err := build.CombinedOutput(); err != nil {
			goSDKExample.err = err
			t.Logf("go build ./example in sdk/go:\n%s", out)
		}
	})
	if goSDKExample.err != nil {
		t.Fatalf("building sdk/go/example: %v", goSDKExample.err)
	}
	_, m := startProcess(t, listeningOn, env, goSDKExample.path, "-port", "0")
	return "http://" + m[1]
}

// goSDKGet GETs url and checks the status and, unless body is "*", the
// body (compared as JSON when it starts with "{" or a quote).
func goSDKGet(t *testing.T, c *http.Client, url string, status int, body string, header ...string) *http.Response {
	t.Helper()
	resp, got := get(t, c, url, header...)
	switch {
	case resp.StatusCode != status:
		t.Fatalf("GET %s: status %d (body %q), want %d", url, resp.StatusCode, got, status)
	case body == "*":
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, `"`):
		if !sameJSON(t, got, body) {
			t.Fatalf("GET %s: %q, want %s", url, got, body)
		}
	case got != body:
		t.Fatalf("GET %s: %q, want %q", url, got, body)
	}
	return resp
}

// goSDKID returns the session id the upstream sees.
func goSDKID(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	_, body := get(t, c, base+"/id")
	var s struct{ ID string }
	if err := json.Unmarshal([]byte(body), &s); err != nil || s.ID == "" {
		t.Fatalf("/id: %q, want a session id", body)
	}
	return s.ID
}

// goSDKCookie returns the Cookie header of the client's session cookie.
func goSDKCookie(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	var parts []string
	for _, ck := range c.Jar.Cookies(req.URL) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		t.Fatal("the client has no session cookie")
	}
	return "Cookie: " + strings.Join(parts, "; ")
}

const goSDKUser = `{"name":"john doe","age":30}`

// TestGoSDKSeed runs koa-session's full application example, written
// with sdk/go, behind the real proxy: /set, /get, /renew (a new id, the
// same data, the old id dead with a server-side store), /destroy.
func TestGoSDKSeed(t *testing.T) {
	t.Parallel()
	up := startGoSDKExample(t)
	for _, store := range []string{"cookie", "memory"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, baseConfig(up).set("store.type", store))
			c := newClient(t)
			goSDKGet(t, c, p.URL+"/get", http.StatusNoContent, "")
			resp := goSDKGet(t, c, p.URL+"/set", http.StatusOK, "session set")
			if len(sessionCookies(resp, "koa.sess")) == 0 {
				t.Fatalf("/set set no session cookie: %v", resp.Header["Set-Cookie"])
			}
			for name := range resp.Header {
				if strings.HasPrefix(strings.ToLower(name), "x-session") {
					t.Errorf("the client saw the directive %s", name)
				}
			}
			goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)

			before, oldCookie := goSDKID(t, c, p.URL), goSDKCookie(t, c, p.URL)
			resp = goSDKGet(t, c, p.URL+"/renew", http.StatusOK, "session renewed")
			if len(sessionCookies(resp, "koa.sess")) == 0 {
				t.Fatalf("/renew set no cookie: %v", resp.Header["Set-Cookie"])
			}
			if after := goSDKID(t, c, p.URL); after == before {
				t.Errorf("/renew kept the session id %s", after)
			}
			goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
			if store != "cookie" { // a cookie store has no id to drop
				goSDKGet(t, plainHTTPClient(), p.URL+"/get", http.StatusNoContent, "", oldCookie)
			}

			resp = goSDKGet(t, c, p.URL+"/destroy", http.StatusOK, "session destroyed")
			if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
				t.Fatalf("/destroy did not clear the cookie: %v", resp.Header["Set-Cookie"])
			}
			goSDKGet(t, c, p.URL+"/get", http.StatusNoContent, "")
		})
	}
}

func plainHTTPClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// A visitor's session gains a user at login, then a new id: everything
// is kept, and the pre-login cookie opens nothing (session fixation).
func TestGoSDKRenewAfterLogin(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startGoSDKExample(t)).set("store.type", "memory"))
	c := newClient(t)
	goSDKGet(t, c, p.URL+"/put?key=cart&value=3", http.StatusOK, "session changed")
	visitor, visitorCookie := goSDKID(t, c, p.URL), goSDKCookie(t, c, p.URL)
	goSDKGet(t, c, p.URL+"/set", http.StatusOK, "session set")
	goSDKGet(t, c, p.URL+"/renew", http.StatusOK, "session renewed")
	if id := goSDKID(t, c, p.URL); id == visitor {
		t.Errorf("the session kept its pre-login id %s", id)
	}
	goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
	goSDKGet(t, c, p.URL+"/get?key=cart", http.StatusOK, `"3"`)
	goSDKGet(t, plainHTTPClient(), p.URL+"/get?key=cart", http.StatusNoContent, "", visitorCookie)
}

// The one-key route changes that key and leaves the rest alone.
func TestGoSDKOneKeyChange(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startGoSDKExample(t)))
	c := newClient(t)
	goSDKGet(t, c, p.URL+"/set", http.StatusOK, "session set")
	goSDKGet(t, c, p.URL+"/put?key=theme&value=dark", http.StatusOK, "session changed")
	goSDKGet(t, c, p.URL+"/get?key=theme", http.StatusOK, `"dark"`)
	goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
}

// Two requests of one session in flight at once, each setting its own
// key, both survive through the Redis store: the library sends only what
// each changed.
func TestGoSDKConcurrentKeysRedis(t *testing.T) {
	t.Parallel()
	up := startGoSDKExample(t)
	p := startProxy(t, baseConfig(up).
		set("store.type", "redis").
		set("store.redis.addrs", []string{redistest.Start(t).Addr}))
	c := newClient(t)
	goSDKGet(t, c, p.URL+"/set", http.StatusOK, "session set")

	start := time.Now()
	var wg sync.WaitGroup
	for _, key := range []string{"a", "b"} {
		wg.Go(func() {
			resp, err := c.Get(p.URL + "/put?ms=500&value=1&key=" + key)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/put %s: status %d", key, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d >= time.Second {
		t.Logf("the two requests took %v: they may not have overlapped", d)
	}
	goSDKGet(t, c, p.URL+"/get?key=a", http.StatusOK, `"1"`)
	goSDKGet(t, c, p.URL+"/get?key=b", http.StatusOK, `"1"`)
	goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
}

// Straight to the upstream, past the proxy: a token signed with another
// secret, or none, is refused with 401; the real secret's token works.
func TestGoSDKForgedToken(t *testing.T) {
	t.Parallel()
	up := startGoSDKExample(t)
	mint := func(secret string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false,
			"iss": "sessionproxy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := plainHTTPClient()
	goSDKGet(t, c, up+"/get", http.StatusUnauthorized, "*")
	goSDKGet(t, c, up+"/get", http.StatusUnauthorized, "*", "X-Session: "+mint("not-the-proxy-secret-0123456789abcdef"))
	goSDKGet(t, c, up+"/get", http.StatusUnauthorized, "*", "X-Session: "+mint(testSecret)+"x")
	goSDKGet(t, c, up+"/get", http.StatusOK, `{"name":"admin"}`, "X-Session: "+mint(testSecret))
}
