package test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// The example upstreams written with the app-side libraries (sdk/python,
// sdk/node, sdk/go, sdk/java, sdk/ruby), and the Java and PHP ones written without one, proven
// behind the real proxy with the Redis store. Each example has koa-session's
// seed routes (/set, /get, /destroy, /renew); the library examples also have
// the same test-facing routes: /login?name=N (set the user and renew),
// /put?key=K&value=V&ms=M (wait M ms, then set one key) and /whoami
// ({"sid", "new", "session"}: what the library read from the token).

// routes is what an example upstream serves.
type routes int

const (
	seedRoutes    routes = iota // koa-session's /set, /get, /destroy, /renew
	libraryRoutes               // and /login, /put, /whoami
)

// appLibrary is an example upstream.
type appLibrary struct {
	name   string
	start  func(t *testing.T, env []string) string // runs the example with env; returns its base URL
	routes routes
	noNew  bool   // /whoami's "new" is null: the API has no isNew
	header string // the token header (token.header, UPSTREAM_HEADER); "" is X-Session
}

// appHeader is the token header some examples run with, so that each
// library is proven with the proxy's token.header set: the directives must
// be named after it, or the proxy passes them on to the client.
const appHeader = "X-App-Session"

// appLibraries are the example upstreams, each run with its own Redis and
// proxy.
var appLibraries = []appLibrary{
	{name: "flask", start: pythonExample("../examples/flask/app.py"), routes: libraryRoutes, header: appHeader},
	{name: "wsgi", start: pythonExample("../examples/wsgi/app.py"), routes: libraryRoutes},
	{name: "fastapi", start: pythonExample("../examples/fastapi/app.py"), routes: libraryRoutes, header: appHeader},
	{name: "django", start: pythonExample("../examples/django/app.py"), routes: libraryRoutes, header: appHeader},
	{name: "koa", start: nodeExample("koa"), routes: libraryRoutes, header: appHeader},
	{name: "express", start: nodeExample("express"), routes: libraryRoutes, noNew: true},                    // express-session has no isNew
	{name: "fastify", start: nodeExample("fastify"), routes: libraryRoutes, noNew: true, header: appHeader}, // nor has @fastify/session
	{name: "go", start: startGoExample, routes: libraryRoutes, header: appHeader},
	{name: "java", start: startJavaExample, routes: seedRoutes},
	{name: "java-servlet", start: startJavaServletExample, routes: libraryRoutes, header: appHeader},
	{name: "php", start: startPHPExample, routes: libraryRoutes, header: appHeader},
	{name: "sinatra", start: startSinatraExample, routes: libraryRoutes, header: appHeader},
	{name: "rails", start: startRailsExample, routes: libraryRoutes},
}

// stories are what every example upstream must do, written once.
var stories = []struct {
	name  string
	needs routes
	run   func(t *testing.T, a app)
}{
	{"seed", seedRoutes, seedStory},
	{"renew after login", libraryRoutes, loginStory},
	{"one key", libraryRoutes, oneKeyStory},
	{"concurrent keys", libraryRoutes, concurrentKeysStory},
	{"forged token", seedRoutes, forgedTokenStory},
}

// app is an example upstream under test.
type app struct {
	appLibrary
	up     string // the upstream's own base URL, past the proxy
	proxy  string // the proxy's public URL, with the Redis store
	memory string // another proxy's, with the memory store
	full   bool   // it has the library routes
}

func TestAppLibraries(t *testing.T) {
	t.Parallel()
	for _, lib := range appLibraries {
		t.Run(lib.name, func(t *testing.T) {
			t.Parallel()
			var env []string
			rc, mc := redisConfig("", redistest.Start(t).Addr), baseConfig("").set("store.type", "memory")
			if lib.header != "" {
				env = append(env, "UPSTREAM_HEADER="+lib.header)
				rc, mc = rc.set("token.header", lib.header), mc.set("token.header", lib.header)
			}
			up := lib.start(t, env)
			p := startProxy(t, rc.set("upstream", up))
			mem := startProxy(t, mc.set("upstream", up))
			a := app{appLibrary: lib, up: up, proxy: p.URL, memory: mem.URL, full: lib.routes == libraryRoutes}
			// One story after another: the concurrent one times its
			// requests. A story needing routes the example lacks (Java has
			// only koa-session's) is not run for it.
			for _, s := range stories {
				if s.needs > lib.routes {
					continue
				}
				t.Run(s.name, func(t *testing.T) { s.run(t, a) })
			}
		})
	}
}

// pythonExample runs a Python example with sdk/python on its path.
func pythonExample(script string) func(t *testing.T, env []string) string {
	return func(t *testing.T, env []string) string {
		sdk, err := filepath.Abs("../sdk/python")
		if err != nil {
			t.Fatal(err)
		}
		return startExample(t, append(env, "PYTHONPATH="+sdk), pythonPath(t), script, "--port", "0")
	}
}

// nodeExample runs examples/<name>/app.js with the packages sdk/node/test.sh
// installs there (npm ci).
func nodeExample(name string) func(t *testing.T, env []string) string {
	return func(t *testing.T, env []string) string {
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
		return startExample(t, env, node, dir+"/app.js", "0")
	}
}

// startGoExample builds sdk/go/example in the library's own module (the
// root module does not import it) and runs it.
func startGoExample(t *testing.T, env []string) string {
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, "./example")
	build.Dir = filepath.Join("..", "sdk", "go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./example in sdk/go: %v\n%s", err, out)
	}
	return startExample(t, env, bin, "-port", "0")
}

// startJavaExample runs examples/java/SessionApp.java, the JDK-only
// upstream with no library.
func startJavaExample(t *testing.T, env []string) string {
	return startExample(t, env, requireTool(t, "java"), "../examples/java/SessionApp.java", "--port", "0")
}

// startJavaServletExample runs examples/java-servlet, a servlet app on
// embedded Jetty whose HttpSession is sdk/java's, as sdk/java/test.sh
// builds it (its classes and runtime jars in target/).
func startJavaServletExample(t *testing.T, env []string) string {
	name, args := javaServletCommand(t)
	return startExample(t, env, name, args...)
}

// javaServletCommand is the command that runs examples/java-servlet on a
// free port.
func javaServletCommand(t *testing.T) (string, []string) {
	java := requireTool(t, "java")
	target := filepath.Join("..", "examples", "java-servlet", "target")
	if _, err := os.Stat(filepath.Join(target, "lib", "sessionproxy-servlet-0.1.0.jar")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("examples/java-servlet is not built (sdk/java/test.sh builds it): %v", err)
		}
		t.Skipf("examples/java-servlet is not built; run sdk/java/test.sh")
	}
	cp := filepath.Join(target, "classes") + string(os.PathListSeparator) + filepath.Join(target, "lib", "*")
	return java, []string{"-cp", cp, "example.SessionServletApp", "--port", "0"}
}

// TestFlashThroughTheProxy: a flash message kept in the session until a
// page shows it survives the real proxy and its store, a page that does
// not show it, and shows once. Flask's flash() keeps its messages in
// session["_flashes"], the FastAPI example by hand in a "_" key too, and
// the Sinatra example in session[:_flash]: keys the proxy reserves (it
// answers 502 to an X-Session-Set naming one), which the libraries store
// under another name ("python:_flashes", "ruby:_flash"). Rails' flash is
// session["flash"].
func TestFlashThroughTheProxy(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(t *testing.T, env []string) string{
		"flask":   pythonExample("../examples/flask/app.py"),
		"fastapi": pythonExample("../examples/fastapi/app.py"),
		"sinatra": startSinatraExample,
		"rails":   startRailsExample,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, baseConfig(start(t, nil)).set("store.type", "memory"))
			c := newClient(t)
			wantGet(t, c, p.URL+"/flash?msg=saved", http.StatusOK, "flashed")
			wantGet(t, c, p.URL+"/count", http.StatusOK, `{"views":1}`) // a page that does not show it
			wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":["saved"]}`)
			wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":[]}`)
		})
	}
}

// TestLibraryFreeExamplesCheckTheToken: the examples without a library
// in sdk/, the ones other languages copy, refuse a token made for another
// upstream's audience and allow a few seconds of clock skew, as the
// libraries do.
func TestLibraryFreeExamplesCheckTheToken(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(t *testing.T, env []string) string{
		"java": startJavaExample,
		"php":  startPHPExample,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkTheToken(t, start(t, []string{"UPSTREAM_AUDIENCE=web"}))
		})
	}
}

func checkTheToken(t *testing.T, up string) {
	mint := func(aud any, exp time.Duration) string {
		now := time.Now()
		claims := jwt.MapClaims{"sid": "s", "sess": map[string]any{"user": map[string]any{"name": "jo"}}, "new": false,
			"iss": "sessionproxy", "iat": now.Unix(), "exp": now.Add(exp).Unix()}
		if aud != nil {
			claims["aud"] = aud
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"its audience", mint("web", time.Minute), http.StatusOK},
		{"its audience in a list", mint([]string{"orders", "web"}, time.Minute), http.StatusOK},
		{"another upstream's audience", mint("orders", time.Minute), http.StatusUnauthorized},
		{"no audience", mint(nil, time.Minute), http.StatusUnauthorized},
		{"expired within the clock skew", mint("web", -2*time.Second), http.StatusOK},
		{"expired", mint("web", -time.Minute), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		resp, body := get(t, plainClient(), up+"/get", "X-Session: "+tc.token)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d (%q), want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
}

// startExample runs an example upstream with the test secret and returns
// its base URL.
func startExample(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	_, m := startProcess(t, listeningOn, append(env, "UPSTREAM_SECRET="+testSecret), name, args...)
	return "http://" + m[1]
}

const johnDoe = `{"name":"john doe","age":30}`

// seedStory is koa-session's full application example (SPEC §1) with a
// server-side store: /renew gives a new id and keeps the data, and the
// cookie from before it no longer finds the session.
func seedStory(t *testing.T, a app) {
	c := newClient(t)
	wantGet(t, c, a.proxy+"/get", http.StatusNoContent, "")
	if a.full {
		a.wantWhoami(t, c, a.proxy, true, `{}`)
	}
	resp := wantGet(t, c, a.proxy+"/set", http.StatusOK, "session set")
	wantSessionCookie(t, resp, "/set")
	wantGet(t, c, a.proxy+"/get", http.StatusOK, johnDoe)
	var before string
	if a.full {
		before = a.wantWhoami(t, c, a.proxy, false, `{"user":`+johnDoe+`}`).sid(t)
	}

	old := jarCookies(t, c, a.proxy)
	resp = wantGet(t, c, a.proxy+"/renew", http.StatusOK, "session renewed")
	wantSessionCookie(t, resp, "/renew")
	if jarCookies(t, c, a.proxy) == old {
		t.Error("/renew kept the cookie")
	}
	wantGet(t, c, a.proxy+"/get", http.StatusOK, johnDoe)
	if a.full {
		if sid := a.wantWhoami(t, c, a.proxy, false, `{"user":`+johnDoe+`}`).sid(t); sid == before {
			t.Errorf("/renew kept the session id %q", sid)
		}
	}
	wantGet(t, plainClient(), a.proxy+"/get", http.StatusNoContent, "", old)

	resp = wantGet(t, c, a.proxy+"/destroy", http.StatusOK, "session destroyed")
	if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
		t.Fatalf("/destroy did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	wantGet(t, c, a.proxy+"/get", http.StatusNoContent, "")
}

// loginStory: a visitor's session gains a user at login and a new id in
// the same response; its other data is kept, and the pre-login cookie
// opens nothing (session fixation).
func loginStory(t *testing.T, a app) {
	c := newClient(t)
	wantGet(t, c, a.proxy+"/put?key=cart&value=3", http.StatusOK, "session changed")
	visitor := a.wantWhoami(t, c, a.proxy, false, `{"cart":"3"}`).sid(t)
	old := jarCookies(t, c, a.proxy)

	resp := wantGet(t, c, a.proxy+"/login?name=jo", http.StatusOK, "logged in")
	wantSessionCookie(t, resp, "/login")
	if jarCookies(t, c, a.proxy) == old {
		t.Error("/login kept the cookie")
	}
	if sid := a.wantWhoami(t, c, a.proxy, false, `{"cart":"3","user":{"name":"jo","age":30}}`).sid(t); sid == visitor {
		t.Errorf("/login kept the session id %q", sid)
	}
	wantGet(t, c, a.proxy+"/get", http.StatusOK, `{"name":"jo","age":30}`)

	a.wantWhoami(t, plainClient(), a.proxy, true, `{}`, old)
	wantGet(t, plainClient(), a.proxy+"/get", http.StatusNoContent, "", old)
}

// oneKeyStory: a route that changes one key leaves the others alone.
func oneKeyStory(t *testing.T, a app) {
	c := newClient(t)
	wantGet(t, c, a.proxy+"/set", http.StatusOK, "session set")
	for _, step := range []struct{ put, want string }{
		{"color=blue", `{"color":"blue","user":` + johnDoe + `}`},
		{"color=red", `{"color":"red","user":` + johnDoe + `}`},
		{"size=L", `{"color":"red","size":"L","user":` + johnDoe + `}`},
	} {
		key, value, _ := strings.Cut(step.put, "=")
		wantGet(t, c, a.proxy+"/put?key="+key+"&value="+value, http.StatusOK, "session changed")
		a.wantWhoami(t, c, a.proxy, false, step.want)
	}
	wantGet(t, c, a.proxy+"/get", http.StatusOK, johnDoe)
}

// concurrentKeysStory: two requests of one session, in the upstream at
// once, each set a different key; both survive through Redis and through
// the memory store, because the library sends only the key each changed.
// Had it sent the whole session, the one that ends last would put back the
// session without the other's key.
func concurrentKeysStory(t *testing.T, a app) {
	for store, base := range map[string]string{"redis": a.proxy, "memory": a.memory} {
		t.Run(store, func(t *testing.T) { concurrentKeys(t, a, base) })
	}
}

func concurrentKeys(t *testing.T, a app, base string) {
	const wait = 500 * time.Millisecond
	c := newClient(t)
	wantGet(t, c, base+"/set", http.StatusOK, "session set")
	var wg sync.WaitGroup
	start := time.Now()
	for i, kv := range [][2]string{{"a", "1"}, {"b", "2"}} {
		// The second a moment later, still well inside the first's wait:
		// a php -S worker accepts every connection that arrives before it
		// starts running a request, so two at once can queue on one worker.
		time.Sleep(time.Duration(i) * wait / 4)
		wg.Go(func() {
			u := base + "/put?key=" + kv[0] + "&value=" + kv[1] + "&ms=" + strconv.FormatInt(wait.Milliseconds(), 10)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("GET %s: %v", u, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: status %d", u, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	// Each /put spends wait in the upstream, inside this window: shorter
	// than twice that, the two spans overlap, so each request's session was
	// loaded before the other's change was saved.
	if took := time.Since(start); took >= 2*wait {
		t.Fatalf("the two requests took %v, not under %v: they may not have overlapped", took, 2*wait)
	}
	a.wantWhoami(t, c, base, false, `{"a":"1","b":"2","user":`+johnDoe+`}`)
	wantGet(t, c, base+"/get", http.StatusOK, johnDoe)
}

// forgedTokenStory: the upstream itself, hit past the proxy, answers 401
// to anything but a token the proxy could have minted; a genuine one,
// minted here with golang-jwt, gives 200 and its session.
func forgedTokenStory(t *testing.T, a app) {
	mint := func(method jwt.SigningMethod, key any, iss string, exp time.Duration) string {
		now := time.Now()
		tok, err := jwt.NewWithClaims(method, jwt.MapClaims{
			"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false,
			"iss": iss, "iat": now.Unix(), "exp": now.Add(exp).Unix(),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	secret := []byte(testSecret)
	h := a.tokenHeader()
	good := mint(jwt.SigningMethodHS256, secret, "sessionproxy", time.Minute)
	parts := strings.Split(good, ".")
	rootPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"forged","sess":{"user":{"name":"root"}},"new":false,"iss":"sessionproxy","exp":` +
		strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10) + `}`))
	refused := []struct{ name, header string }{
		{"no token", ""},
		{"empty", h + ": "},
		{"garbage", h + ": not-a-token"},
		{"another secret", h + ": " + mint(jwt.SigningMethodHS256, []byte("not-the-proxy-secret-0123456789abcdef"), "sessionproxy", time.Minute)},
		{"HS512", h + ": " + mint(jwt.SigningMethodHS512, secret, "sessionproxy", time.Minute)},
		{"alg none", h + ": " + mint(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "sessionproxy", time.Minute)},
		{"expired", h + ": " + mint(jwt.SigningMethodHS256, secret, "sessionproxy", -time.Minute)},
		{"other issuer", h + ": " + mint(jwt.SigningMethodHS256, secret, "someone", time.Minute)},
		{"no signature", h + ": " + parts[0] + "." + parts[1] + "."},
		{"signature of another payload", h + ": " + parts[0] + "." + rootPayload + "." + parts[2]},
	}
	c := plainClient()
	for _, r := range refused {
		var header []string
		if r.header != "" {
			header = []string{r.header}
		}
		resp, body := get(t, c, a.up+"/get", header...)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d (%q), want 401", r.name, resp.StatusCode, body)
		}
		noDirectives(t, resp, r.name)
	}
	wantGet(t, c, a.up+"/get", http.StatusOK, `{"name":"admin"}`, h+": "+good)
	if a.full {
		if sid := a.wantWhoami(t, c, a.up, false, `{"user":{"name":"admin"}}`, h+": "+good).sid(t); sid != "forged" {
			t.Errorf("/whoami with a genuine token: session id %q, want the token's", sid)
		}
	}
}

// wantGet GETs url and checks the status and the body (compared as JSON
// when it starts with "{"), and that no session directive reached the
// client.
func wantGet(t *testing.T, c *http.Client, url string, status int, body string, header ...string) *http.Response {
	t.Helper()
	resp, got := get(t, c, url, header...)
	switch {
	case resp.StatusCode != status:
		t.Fatalf("GET %s: status %d (body %q), want %d", url, resp.StatusCode, got, status)
	case strings.HasPrefix(body, "{"):
		if !sameJSON(t, got, body) {
			t.Fatalf("GET %s: %q, want %s", url, got, body)
		}
	case got != body:
		t.Fatalf("GET %s: %q, want %q", url, got, body)
	}
	noDirectives(t, resp, "GET "+url)
	return resp
}

// tokenHeader is the header the example reads its token from.
func (a app) tokenHeader() string {
	if a.header != "" {
		return a.header
	}
	return "X-Session"
}

// noDirectives checks that resp carries no X-Session-* header (nor one
// named after appHeader): the proxy removes them, and a refused request
// changes nothing.
func noDirectives(t *testing.T, resp *http.Response, what string) {
	t.Helper()
	for name := range resp.Header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-session") || strings.HasPrefix(n, strings.ToLower(appHeader)) {
			t.Errorf("%s: the client saw %s: %v", what, name, resp.Header[name])
		}
	}
}

// wantSessionCookie checks that resp sets the session cookie.
func wantSessionCookie(t *testing.T, resp *http.Response, what string) {
	t.Helper()
	if len(sessionCookies(resp, "koa.sess")) == 0 {
		t.Fatalf("%s set no session cookie: %v", what, resp.Header["Set-Cookie"])
	}
}

// jarCookies returns the Cookie header of c's cookies for base.
func jarCookies(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	cs := c.Jar.Cookies(u)
	if len(cs) == 0 {
		t.Fatal("the client has no session cookie")
	}
	return cookieHeader(cs)
}

// whoami is what the examples' /whoami answers.
type whoami struct {
	SID     *string         `json:"sid"`
	New     *bool           `json:"new"`
	Session json.RawMessage `json:"session"`
}

// wantWhoami GETs /whoami at base (the proxy or the upstream) and checks
// what the library read from the token: the session data, and new (unless
// the example cannot tell).
func (a app) wantWhoami(t *testing.T, c *http.Client, base string, isNew bool, session string, header ...string) whoami {
	t.Helper()
	resp, body := get(t, c, base+"/whoami", header...)
	var w whoami
	if err := json.Unmarshal([]byte(body), &w); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("/whoami: %d %q (%v)", resp.StatusCode, body, err)
	}
	if !sameJSON(t, string(w.Session), session) {
		t.Errorf("/whoami: session %s, want %s", w.Session, session)
	}
	switch {
	case a.noNew:
		if w.New != nil {
			t.Errorf("/whoami: new %v from an example that cannot tell", *w.New)
		}
	case w.New == nil || *w.New != isNew:
		t.Errorf("/whoami: new %s, want %v", jsonText(w.New), isNew)
	}
	return w
}

// sid returns the session id /whoami reported, failing without one.
func (w whoami) sid(t *testing.T) string {
	t.Helper()
	if w.SID == nil || *w.SID == "" {
		t.Fatalf("/whoami: no session id")
	}
	return *w.SID
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
