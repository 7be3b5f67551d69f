package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/config"
	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

const (
	reloadKey1   = "reload-key-one-0123456789abcdef0123456789"
	reloadKey2   = "reload-key-two-0123456789abcdef0123456789"
	reloadSecret = "reload-secret-0123456789abcdef0123456789"
)

// reloadApp is an app built from a config file the test rewrites, in
// front of an upstream that reports the token it got and sets the
// session on /set (after ?wait is closed, when asked).
type reloadApp struct {
	*app
	path        string
	upstreamURL string
	tokens      chan string
	wait        chan struct{}
	logs        *strings.Builder
}

func newReloadApp(t *testing.T, yaml string) *reloadApp {
	t.Helper()
	ra := &reloadApp{tokens: make(chan string, 16), wait: make(chan struct{}), logs: &strings.Builder{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ra.tokens <- r.Header.Get("X-Session")
		if r.URL.Query().Has("wait") {
			<-ra.wait
		}
		if r.URL.Path == "/set" {
			w.Header().Set("X-Session-Set", `{"user":"ann"}`)
		}
	}))
	t.Cleanup(up.Close)
	ra.path = filepath.Join(t.TempDir(), "sessionproxy.yaml")
	ra.write(t, strings.ReplaceAll(yaml, "UPSTREAM", up.URL))
	file, err := load(ra.path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, ra.logs}, nil))
	a, err := newApp(context.Background(), file, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.path = ra.path
	ra.app = a
	ra.upstreamURL = up.URL
	return ra
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (ra *reloadApp) write(t *testing.T, yaml string) {
	t.Helper()
	if ra.upstreamURL != "" {
		yaml = strings.ReplaceAll(yaml, "UPSTREAM", ra.upstreamURL)
	}
	if err := os.WriteFile(ra.path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// get sends a GET with cookie through the app and returns the response
// and the token the upstream got.
func (ra *reloadApp) get(t *testing.T, path, cookie string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	ra.handler.ServeHTTP(w, r)
	return w.Result(), <-ra.tokens
}

func (ra *reloadApp) adminGet(t *testing.T, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	ra.app.admin.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w.Code, w.Body.String()
}

func writeKey(t *testing.T, kind string) (string, *token.Key) {
	t.Helper()
	b, err := token.Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), kind+".pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := token.ParseKey(b, map[string]string{"ed25519": token.EdDSA, "p256": token.ES256}[kind])
	if err != nil {
		t.Fatal(err)
	}
	return path, k
}

func cookieHeader(resp *http.Response) string {
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// decodes reports whether a Manager with only keys reads the session
// cookie of the Cookie header.
func decodes(t *testing.T, cookie string, keys ...string) bool {
	t.Helper()
	m, err := session.New(session.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	s, err := m.Load(context.Background(), r)
	return err == nil && !s.IsNew
}

// TestReloadRotatesKeys moves from HS256 to EdDSA and puts a new cookie
// key first with one reload: the session survives and its cookie is
// re-issued under the new key, tokens carry the new key's kid, the JWKS
// publishes it, and the metrics count the reload.
func TestReloadRotatesKeys(t *testing.T) {
	ra := newReloadApp(t, "upstream: UPSTREAM\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+"}\n")
	if code, _ := ra.adminGet(t, token.JWKSPath); code != http.StatusNotFound {
		t.Errorf("HS256: JWKS status %d, want 404", code)
	}
	resp, _ := ra.get(t, "/set", "")
	cookie := cookieHeader(resp)
	if !decodes(t, cookie, reloadKey1) {
		t.Fatal("no session cookie under key 1")
	}

	keyFile, key := writeKey(t, "ed25519")
	ra.write(t, "upstream: UPSTREAM\nkeys: ["+reloadKey2+", "+reloadKey1+"]\ntoken: {alg: EdDSA, signingKeys: ["+keyFile+"], audience: web}\n")
	if err := ra.reload(); err != nil {
		t.Fatal(err)
	}
	resp, tok := ra.get(t, "/", cookie)
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key.PublicKey(), nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("web"))
	if err != nil {
		t.Fatalf("the token after the reload: %v", err)
	}
	if parsed.Header["kid"] != key.ID {
		t.Errorf("kid %v, want %s", parsed.Header["kid"], key.ID)
	}
	if sess, _ := claims["sess"].(map[string]any); sess["user"] != "ann" {
		t.Errorf("the session after the reload: %v", claims["sess"])
	}
	reissued := cookieHeader(resp)
	if !decodes(t, reissued, reloadKey2) {
		t.Errorf("the cookie was not re-issued under the new first key: %q", resp.Header["Set-Cookie"])
	}

	code, body := ra.adminGet(t, token.JWKSPath)
	var set struct{ Keys []token.JWK }
	if err := json.Unmarshal([]byte(body), &set); code != 200 || err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != key.ID {
		t.Errorf("JWKS %d %s, want the key %s", code, body, key.ID)
	}
	_, metrics := ra.adminGet(t, "/metrics")
	for _, want := range []string{`sessionproxy_config_reloads_total{result="ok"} 1`, `sessionproxy_config_reloads_total{result="error"} 0`, "sessionproxy_config_last_reload_success_timestamp_seconds 1."} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(ra.logs.String(), `"msg":"config reloaded"`) || !strings.Contains(ra.logs.String(), `"changed":["keys","token.alg","token.secret","token.signingKeys","token.audience"]`) {
		t.Errorf("the log does not say what the reload changed:\n%s", ra.logs)
	}
	if strings.Contains(ra.logs.String(), reloadKey2) || strings.Contains(ra.logs.String(), reloadSecret) {
		t.Error("the log shows a key or the secret")
	}
}

// TestReloadInFlight: a request that arrived before a reload finishes
// with the config it started with; the next one uses the new config.
func TestReloadInFlight(t *testing.T) {
	ra := newReloadApp(t, "upstream: UPSTREAM\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+"}\n")
	done := make(chan *http.Response)
	go func() {
		r := httptest.NewRequest("GET", "/set?wait", nil)
		w := httptest.NewRecorder()
		ra.handler.ServeHTTP(w, r)
		done <- w.Result()
	}()
	<-ra.tokens // the request is at the upstream
	ra.write(t, "upstream: UPSTREAM\nkeys: ["+reloadKey2+"]\ntoken: {secret: "+reloadSecret+"}\n")
	if err := ra.reload(); err != nil {
		t.Fatal(err)
	}
	close(ra.wait)
	if cookie := cookieHeader(<-done); !decodes(t, cookie, reloadKey1) {
		t.Errorf("the request in flight did not finish with the old key: %q", cookie)
	}
	resp, _ := ra.get(t, "/set", "")
	if cookie := cookieHeader(resp); !decodes(t, cookie, reloadKey2) {
		t.Errorf("a new request did not use the new key: %q", cookie)
	}
}

// TestReloadInvalid: a broken file, or a key file that cannot be read,
// changes nothing; every problem is logged and counted.
func TestReloadInvalid(t *testing.T) {
	const good = "upstream: UPSTREAM\nkeys: [" + reloadKey1 + "]\ntoken: {secret: " + reloadSecret + "}\n"
	ra := newReloadApp(t, good)
	before := ra.current.Load()
	for _, tc := range []struct {
		name, yaml string
		problems   []string
	}{
		{"two problems", "upstream: ftp://x\nkeys: [short]\ntoken: {secret: " + reloadSecret + "}\n", []string{"upstream: \\\"ftp://x\\\" must be an http:// or https:// URL", "keys[0]: must be at least 32 characters"}},
		{"not YAML", "upstream: [\n", []string{"yaml"}},
		{"unreadable key", "upstream: UPSTREAM\nkeys: [" + reloadKey1 + "]\ntoken: {alg: ES256, signingKeys: [/nonexistent/k.pem]}\n", []string{"token.signingKeys[0]: open /nonexistent/k.pem: no such file or directory"}},
	} {
		ra.logs.Reset()
		ra.write(t, tc.yaml)
		if err := ra.reload(); err == nil {
			t.Fatalf("%s: reloaded", tc.name)
		}
		if ra.current.Load() != before {
			t.Fatalf("%s: the failed reload changed the config", tc.name)
		}
		logs := ra.logs.String()
		for _, p := range append(tc.problems, `"msg":"config reload failed; still serving the previous config"`) {
			if !strings.Contains(logs, p) {
				t.Errorf("%s: the log lacks %s:\n%s", tc.name, p, logs)
			}
		}
	}
	if resp, _ := ra.get(t, "/set", ""); !decodes(t, cookieHeader(resp), reloadKey1) {
		t.Error("the proxy does not serve with the old config")
	}
	if _, metrics := ra.adminGet(t, "/metrics"); !strings.Contains(metrics, `sessionproxy_config_reloads_total{result="error"} 3`) {
		t.Error("the failed reloads are not counted")
	}
}

// TestReloadNotApplied: settings that need a restart are logged by name
// and keep their running values.
func TestReloadNotApplied(t *testing.T) {
	ra := newReloadApp(t, "upstream: UPSTREAM\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+"}\n")
	ra.write(t, "listen: \":4000\"\nupstream: UPSTREAM\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+", ttl: 30s}\nstore: {type: memory}\nserver: {idleTimeout: 5s}\nsession: {format: koa}\nlog: {level: debug}\n")
	if err := ra.reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ra.logs.String(), `"settings":["listen","server.idleTimeout","session.format","store.type","log.level"]`) {
		t.Errorf("the log does not name the settings not applied:\n%s", ra.logs)
	}
	if ra.cfg.Listen != ":3000" {
		t.Error("listen changed")
	}
	if got := ra.current.Load().cfg.Token.TTL; time.Duration(got) != 30*time.Second {
		t.Errorf("token.ttl %v not applied", got)
	}
	// The cookie keeps the format the proxy started with, as the log says:
	// a format changed by a reload made every session's cookie unreadable.
	resp, _ := ra.get(t, "/set", "")
	cookie := cookieHeader(resp)
	if !decodes(t, cookie, reloadKey1) || strings.Contains(cookie, ".sig=") {
		t.Errorf("after a reload that changed session.format, the cookie is %q, want the running (secure) format", cookie)
	}
}

func TestChangedSettings(t *testing.T) {
	a := loadedFor(t, "upstream: http://a\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+"}\n")
	b := loadedFor(t, "upstream: http://b\nkeys: ["+reloadKey1+"]\ntoken: {secret: "+reloadSecret+"}\nsession: {maxAge: 1h, secure: true}\nroutes: [{path: /x/}]\n")
	want := []string{"upstream", "session.maxAge", "session.secure", "routes"}
	if got := changedSettings(a, b); !slices.Equal(got, want) {
		t.Errorf("changed %v, want %v", got, want)
	}
	if got := changedSettings(a, a); len(got) != 0 {
		t.Errorf("no change gave %v", got)
	}
}

func loadedFor(t *testing.T, yaml string) config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
