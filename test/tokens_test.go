package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

// genkey runs `sessionproxy -genkey kind`, writes the key to a file and
// returns its path and the key.
func genkey(t *testing.T, kind string) (string, *token.Key) {
	t.Helper()
	out, err := exec.Command(binary, "-genkey", kind).Output()
	if err != nil {
		t.Fatalf("-genkey %s: %v", kind, err)
	}
	path := filepath.Join(t.TempDir(), kind+".pem")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := token.ParseKey(out, algOf[kind])
	if err != nil {
		t.Fatalf("-genkey %s printed %q: %v", kind, out, err)
	}
	return path, k
}

var algOf = map[string]string{"ed25519": token.EdDSA, "p256": token.ES256}

// keyConfig returns cfg signing tokens with alg and the key files.
func keyConfig(cfg config, alg string, keyFiles ...string) config {
	return cfg.set("token", map[string]any{"alg": alg, "signingKeys": keyFiles})
}

// lateUpstream is an upstream whose address is set after the proxy has
// started: a pass-through to target, for upstreams that need the
// proxy's admin address (its JWKS URL) to start.
func lateUpstream(t *testing.T) (string, func(target string)) {
	t.Helper()
	var to atomic.Pointer[url.URL]
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(to.Load())
		pr.Out.Host = pr.In.Host
	}}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL, func(target string) {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		to.Store(u)
	}
}

// startJWKSProxy starts a proxy signing with alg and the key files, in
// front of the Go library's example holding only the proxy's JWKS URL
// (and expecting audience, if any). It returns the proxy, the config's
// path (to rewrite before a SIGHUP) and the example's own URL.
func startJWKSProxy(t *testing.T, alg, audience string, keyFiles ...string) (*proxy, string, config, string) {
	t.Helper()
	shim, setUpstream := lateUpstream(t)
	cfg := keyConfig(baseConfig(shim), alg, keyFiles...)
	path := cfg.write(t)
	p, m := startProcess(t, proxyListening, nil, binary, "-config", path)
	px := &proxy{process: p, URL: "http://" + m[1], Admin: "http://" + m[2]}
	up := startGoExampleEnv(t, "UPSTREAM_SECRET=", "UPSTREAM_JWKS_URL="+px.Admin+token.JWKSPath, "UPSTREAM_AUDIENCE="+audience)
	setUpstream(up)
	return px, path, cfg, up
}

// rewrite writes cfg over the config file at path.
func (c config) rewrite(t *testing.T, path string) {
	t.Helper()
	fresh := c.write(t)
	b, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sighup sends SIGHUP and waits until the proxy has logged the n-th
// reload line containing msg.
func (p *proxy) sighup(t *testing.T, msg string, n int) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Count(p.Output(), msg) >= n {
			return
		}
	}
	t.Fatalf("no %q after SIGHUP; the proxy printed:\n%s", msg, p.Output())
}

// jwksOf GETs the proxy's JWKS and returns its keys.
func jwksOf(t *testing.T, p *proxy) (*http.Response, []map[string]string) {
	t.Helper()
	resp, body := get(t, plainClient(), p.Admin+token.JWKSPath)
	var set struct{ Keys []map[string]string }
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			t.Fatalf("JWKS %q: %v", body, err)
		}
	}
	return resp, set.Keys
}

// TestTokensVerifiedFromJWKSOnly: an upstream that holds only the proxy's
// JWKS URL verifies every token of the seed flow, for EdDSA and ES256,
// and cannot be handed a token it did not get from the proxy: not one
// signed by another key under the proxy's kid, not HS256 with the public
// key as its secret, not an unsigned one.
func TestTokensVerifiedFromJWKSOnly(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"ed25519", "p256"} {
		t.Run(algOf[kind], func(t *testing.T) {
			t.Parallel()
			keyFile, key := genkey(t, kind)
			p, _, _, up := startJWKSProxy(t, key.Alg, "", keyFile)

			resp, keys := jwksOf(t, p)
			if len(keys) != 1 || keys[0]["kid"] != key.ID || keys[0]["alg"] != key.Alg || keys[0]["use"] != "sig" || keys[0]["d"] != "" {
				t.Fatalf("JWKS %v, want the public key %s alone", keys, key.ID)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") || resp.Header.Get("ETag") == "" {
				t.Errorf("JWKS headers %v: no Cache-Control max-age or ETag", resp.Header)
			}

			c := newClient(t)
			wantGet(t, c, p.URL+"/get", http.StatusNoContent, "")
			wantGet(t, c, p.URL+"/set", http.StatusOK, "session set")
			wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
			wantGet(t, c, p.URL+"/renew", http.StatusOK, "session renewed")
			wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
			wantGet(t, c, p.URL+"/destroy", http.StatusOK, "session destroyed")
			wantGet(t, c, p.URL+"/get", http.StatusNoContent, "")

			// Straight to the upstream, tokens nobody but the proxy could
			// sign are refused.
			claims := jwt.MapClaims{"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false,
				"iss": "sessionproxy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
			_, other := genkey(t, kind)
			underKid := jwt.NewWithClaims(jwt.GetSigningMethod(key.Alg), claims)
			underKid.Header["kid"] = key.ID
			forged := signWith(t, underKid, other)
			pub, _ := base64.RawURLEncoding.DecodeString(keys[0]["x"])
			confused := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
			confused.Header["kid"] = key.ID
			hs, _ := confused.SignedString(pub)
			none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
			for name, tok := range map[string]string{"another key under the proxy's kid": forged, "HS256 with the public key": hs, "alg none": none} {
				t.Run(name, func(t *testing.T) {
					wantStatus(t, plainClient(), up+"/get", http.StatusUnauthorized, "X-Session: "+tok)
				})
			}
		})
	}
}

// signWith signs tok with a key's private half, which the token package
// keeps to itself: through the PEM it came from.
func signWith(t *testing.T, tok *jwt.Token, k *token.Key) string {
	t.Helper()
	input, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.Sign(input)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestTokensGenkeyPassesCheck: what -genkey prints, -check accepts as a
// signing key of its kind, and names the mismatch for the other.
func TestTokensGenkeyPassesCheck(t *testing.T) {
	t.Parallel()
	for kind, alg := range algOf {
		keyFile, _ := genkey(t, kind)
		path := keyConfig(baseConfig("http://127.0.0.1:1"), alg, keyFile).write(t)
		if out, err := exec.Command(binary, "-check", "-config", path).CombinedOutput(); err != nil {
			t.Errorf("-check with a -genkey %s key for %s: %v\n%s", kind, alg, err, out)
		}
		wrong := map[string]string{token.EdDSA: token.ES256, token.ES256: token.EdDSA}[alg]
		path = keyConfig(baseConfig("http://127.0.0.1:1"), wrong, keyFile).write(t)
		out, err := exec.Command(binary, "-check", "-config", path).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "token.signingKeys[0]: "+keyFile) {
			t.Errorf("-check with a %s key for %s: %v\n%s", kind, wrong, err, out)
		}
	}
	out, err := exec.Command(binary, "-genkey", "rsa").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ed25519 or p256") {
		t.Errorf("-genkey rsa: %v %s", err, out)
	}
}

// TestTokensAudience: a route's audience overrides the global one, and an
// upstream expecting another audience refuses the token.
func TestTokensAudience(t *testing.T) {
	t.Parallel()
	keyFile, _ := genkey(t, "ed25519")
	webShim, setWeb := lateUpstream(t)
	ordersShim, setOrders := lateUpstream(t)
	cfg := keyConfig(baseConfig(webShim), token.EdDSA, keyFile)
	cfg.set("token.audience", "web")
	cfg["routes"] = []map[string]any{
		{"path": "/get", "upstream": ordersShim, "audience": "orders"}, // the orders app reads
		{"path": "/whoami", "audience": "orders"},                      // the web app, with a token for orders
	}
	p := startProxy(t, cfg)
	jwks := "UPSTREAM_JWKS_URL=" + p.Admin + token.JWKSPath
	setWeb(startGoExampleEnv(t, "UPSTREAM_SECRET=", jwks, "UPSTREAM_AUDIENCE=web"))
	setOrders(startGoExampleEnv(t, "UPSTREAM_SECRET=", jwks, "UPSTREAM_AUDIENCE=orders"))

	c := newClient(t)
	wantGet(t, c, p.URL+"/set", http.StatusOK, "session set")  // web, aud web
	wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)        // orders, aud orders
	wantStatus(t, c, p.URL+"/whoami", http.StatusUnauthorized) // web, aud orders: refused
	wantGet(t, c, p.URL+"/renew", http.StatusOK, "session renewed")
}

// TestTokensRotateUnderLoad puts a new token key first and SIGHUPs, then
// a new cookie key first and SIGHUPs, while clients keep requesting:
// not one request fails, nobody is logged out, the upstream (holding
// only the JWKS URL) accepts the tokens of both keys, new tokens carry
// the new kid, and every cookie is re-issued under the new cookie key.
func TestTokensRotateUnderLoad(t *testing.T) {
	t.Parallel()
	key1File, key1 := genkey(t, "ed25519")
	key2File, key2 := genkey(t, "ed25519")
	p, path, cfg, _ := startJWKSProxy(t, token.EdDSA, "", key1File)

	const clients = 4
	jars := make([]*http.Client, clients)
	for i := range jars {
		jars[i] = newClient(t)
		wantGet(t, jars[i], p.URL+"/set", http.StatusOK, "session set")
	}
	rotation := keepReading(t, p, jars, 2500*time.Millisecond)

	time.Sleep(500 * time.Millisecond)
	keyConfig(cfg, token.EdDSA, key2File, key1File).rewrite(t, path)
	p.sighup(t, `"msg":"config reloaded"`, 1)
	time.Sleep(700 * time.Millisecond)
	cfg.set("keys", []string{testKey2, testKey}).rewrite(t, path)
	p.sighup(t, `"msg":"config reloaded"`, 2)
	if n := rotation.wait(); n < 20 {
		t.Fatalf("%d requests during the rotations, want at least 20", n)
	}

	_, keys := jwksOf(t, p)
	if len(keys) != 2 || keys[0]["kid"] != key2.ID || keys[1]["kid"] != key1.ID {
		t.Errorf("JWKS after the rotation %v, want %s then %s", keys, key2.ID, key1.ID)
	}
	// New tokens are signed by the new key: an HS256-free upstream that
	// still verifies them, and a capture of one.
	capture := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { capture <- r.Header.Get("X-Session") }))
	defer srv.Close()
	cfg.set("routes", []map[string]any{{"path": "/capture", "upstream": srv.URL}}).rewrite(t, path)
	p.sighup(t, `"msg":"config reloaded"`, 3)
	get(t, jars[0], p.URL+"/capture")
	tok, _, err := jwt.NewParser().ParseUnverified(<-capture, jwt.MapClaims{})
	if err != nil || tok.Header["kid"] != key2.ID {
		t.Errorf("a new token's kid is %v (%v), want the new key %s", tok.Header["kid"], err, key2.ID)
	}
	// Every client's cookie is now under the new cookie key alone.
	for i, c := range jars {
		if !underKeys(t, c, p.URL, testKey2) {
			t.Errorf("client %d: the cookie was not re-issued under the new key", i)
		}
		wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
	}
	if s := scrape(t, p); s[`sessionproxy_config_reloads_total{result="ok"}`] != 3 || s[`sessionproxy_config_reloads_total{result="error"}`] != 0 {
		t.Errorf("reloads counted: %v ok, %v error", s[`sessionproxy_config_reloads_total{result="ok"}`], s[`sessionproxy_config_reloads_total{result="error"}`])
	}
}

// underKeys reports whether the client's session cookie for base opens
// with keys alone.
func underKeys(t *testing.T, c *http.Client, base string, keys ...string) bool {
	t.Helper()
	m, err := session.New(session.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", base, nil)
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		r.AddCookie(ck)
	}
	s, err := m.Load(context.Background(), r)
	return err == nil && !s.IsNew
}

// TestTokensBrokenReload: a broken file on SIGHUP changes nothing: the
// proxy keeps serving with the config it has, the log names every
// problem, and the error counter goes up.
func TestTokensBrokenReload(t *testing.T) {
	t.Parallel()
	keyFile, key := genkey(t, "p256")
	p, path, cfg, _ := startJWKSProxy(t, token.ES256, "", keyFile)
	c := newClient(t)
	wantGet(t, c, p.URL+"/set", http.StatusOK, "session set")

	cfg.set("keys", []string{"short"}).set("token.signingKeys", []string{"/nonexistent/key.pem"}).rewrite(t, path)
	p.sighup(t, `"msg":"config reload failed; still serving the previous config"`, 1)
	for _, want := range []string{"keys[0]: must be at least 32 characters", `"problems":[`} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("the log does not name %q:\n%s", want, p.Output())
		}
	}
	// A valid file whose key cannot be read: the same.
	cfg.set("keys", []string{testKey}).rewrite(t, path)
	p.sighup(t, `"msg":"config reload failed; still serving the previous config"`, 2)
	if !strings.Contains(p.Output(), "token.signingKeys[0]: open /nonexistent/key.pem: no such file or directory") {
		t.Errorf("the log does not name the unreadable key file:\n%s", p.Output())
	}

	wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
	if _, keys := jwksOf(t, p); len(keys) != 1 || keys[0]["kid"] != key.ID {
		t.Errorf("JWKS after failed reloads: %v", keys)
	}
	s := scrape(t, p)
	if s[`sessionproxy_config_reloads_total{result="error"}`] != 2 || s[`sessionproxy_config_reloads_total{result="ok"}`] != 0 {
		t.Errorf("reloads counted: %v error, %v ok", s[`sessionproxy_config_reloads_total{result="error"}`], s[`sessionproxy_config_reloads_total{result="ok"}`])
	}
	if s["sessionproxy_config_last_reload_success_timestamp_seconds"] < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Error("no start-up time in the last-success gauge")
	}
}

// TestTokensHS256PublishesNothing: with HS256 the JWKS path is a 404,
// never the secret.
func TestTokensHS256PublishesNothing(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig("http://127.0.0.1:1"))
	resp, body := get(t, plainClient(), p.Admin+token.JWKSPath)
	if resp.StatusCode != http.StatusNotFound || strings.Contains(body, testSecret) {
		t.Errorf("HS256 JWKS: %d %q", resp.StatusCode, body)
	}
}

// goExample is sdk/go/example, built once in the library's own module
// (the root module does not import it), next to the proxy's binary.
var goExample struct {
	once sync.Once
	path string
	err  error
}

// startGoExampleEnv runs the Go library's example upstream with env alone
// (UPSTREAM_SECRET, UPSTREAM_JWKS_URL, UPSTREAM_AUDIENCE) and returns its
// base URL.
func startGoExampleEnv(t *testing.T, env ...string) string {
	t.Helper()
	goExample.once.Do(func() {
		goExample.path = filepath.Join(filepath.Dir(binary), "sdk-go-example")
		build := exec.Command("go", "build", "-o", goExample.path, "./example")
		build.Dir = filepath.Join("..", "sdk", "go")
		if out, err := build.CombinedOutput(); err != nil {
			goExample.err = fmt.Errorf("go build ./example in sdk/go: %w\n%s", err, out)
		}
	})
	if goExample.err != nil {
		t.Fatal(goExample.err)
	}
	_, m := startProcess(t, listeningOn, env, goExample.path, "-port", "0")
	return "http://" + m[1]
}

// wantStatus GETs url and checks the status alone.
func wantStatus(t *testing.T, c *http.Client, url string, status int, header ...string) {
	t.Helper()
	if resp, body := get(t, c, url, header...); resp.StatusCode != status {
		t.Fatalf("GET %s: status %d (body %q), want %d", url, resp.StatusCode, body, status)
	}
}

// reading is keepReading's work under way.
type reading struct {
	wg       sync.WaitGroup
	requests atomic.Int64
}

// keepReading has each client GET /get from p, which must answer johnDoe
// every time, for d, while the test rotates a key: a failure is a test
// error, and that client stops.
func keepReading(t *testing.T, p *proxy, clients []*http.Client, d time.Duration) *reading {
	t.Helper()
	r := &reading{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	for _, c := range clients {
		r.wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := c.Get(p.URL + "/get")
				r.requests.Add(1)
				if err != nil {
					t.Errorf("GET /get during the rotation: %v", err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !sameJSON(t, string(body), johnDoe) {
					t.Errorf("GET /get during the rotation: %d %q %v", resp.StatusCode, body, err)
					return
				}
			}
		})
	}
	return r
}

// wait waits for the clients to stop and returns how many requests they
// made.
func (r *reading) wait() int64 {
	r.wg.Wait()
	return r.requests.Load()
}
