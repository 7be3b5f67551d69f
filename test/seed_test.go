package test

import (
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSeed runs koa-session's full application example through the proxy
// with the default cookie store.
func TestSeed(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	seedFlow(t, p)
}

// seedFlow is SPEC §1: /set, /get, /renew, /destroy, as a browser sees them.
func seedFlow(t *testing.T, p *proxy) {
	t.Helper()
	c := newClient(t)
	if resp, body := get(t, c, p.URL+"/get"); resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("/get before /set: %d %q, want an empty 204", resp.StatusCode, body)
	}
	resp, body := get(t, c, p.URL+"/set")
	if body != "session set" || len(sessionCookies(resp, "koa.sess")) == 0 {
		t.Fatalf("/set: body %q, cookies %v; want a session cookie", body, resp.Header["Set-Cookie"])
	}
	const user = `{"age":30,"name":"john doe"}`
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, user) {
		t.Fatalf("/get after /set: %q, want %s", body, user)
	}
	_, before := getEcho(t, c, p.URL+"/echo")
	resp, _ = get(t, c, p.URL+"/renew")
	if len(sessionCookies(resp, "koa.sess")) == 0 {
		t.Fatalf("/renew set no cookie: %v", resp.Header["Set-Cookie"])
	}
	_, after := getEcho(t, c, p.URL+"/echo")
	if sid := after.Claims["sid"]; sid != nil && sid == before.Claims["sid"] {
		t.Errorf("/renew kept the session id %v", sid)
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
}

func TestCookieOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)

	resp, e := getEcho(t, c, p.URL+"/echo")
	if cs := sessionCookies(resp, "koa.sess"); len(cs) != 0 {
		t.Errorf("a new session that stayed empty set a cookie: %v", cs)
	}
	if e.Claims["new"] != true || len(e.Session) != 0 {
		t.Errorf("first request: claims %v, want a new, empty session", e.Claims)
	}
	get(t, c, p.URL+"/set")
	resp, e = getEcho(t, c, p.URL+"/echo")
	if cs := sessionCookies(resp, "koa.sess"); len(cs) != 0 {
		t.Errorf("an unchanged session set a cookie: %v", cs)
	}
	if e.Claims["new"] != false {
		t.Errorf("second request: new = %v, want false", e.Claims["new"])
	}
	// Setting a value the session already has changes nothing either.
	resp, _ = getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"user":{"age":30}}`))
	if cs := sessionCookies(resp, "koa.sess"); len(cs) != 0 {
		t.Errorf("a Set that changed nothing set a cookie: %v", cs)
	}
}

func TestTamperedCookieGivesFreshSession(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)
	resp, _ := get(t, c, p.URL+"/set")
	ck := sessionCookies(resp, "koa.sess")[0]
	v := []byte(ck.Value)
	v[len(v)/2] ^= 1
	for _, value := range []string{string(v), "garbage", ""} {
		_, e := getEcho(t, http.DefaultClient, p.URL+"/echo", "Cookie: koa.sess="+value)
		if e.Claims["new"] != true || len(e.Session) != 0 {
			t.Errorf("cookie %q: upstream saw %v, want a new, empty session", value, e.Claims)
		}
	}
}

func TestClientCannotForgeSessionHeaders(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)
	get(t, c, p.URL+"/set")
	forged := []string{
		"X-Session: forged.token.value",
		`X-Session-Set: {"admin":true}`,
		"x-session-destroy: true",
		`X_Session_Set: {"admin":true}`,
		"X_SESSION: forged",
	}
	_, e := getEcho(t, c, p.URL+"/echo", forged...)
	for name := range e.Headers {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-session") && name != "X-Session" {
			t.Errorf("upstream received client header %s", name)
		}
	}
	if e.Headers["X-Session"] == "forged.token.value" {
		t.Error("upstream received the client's forged X-Session")
	}
	if got := strings.Join(e.EnvironKeys, " "); strings.Count(got, "HTTP_X_SESSION") != 1 {
		t.Errorf("WSGI environ has %s, want exactly one HTTP_X_SESSION (the proxy's)", got)
	}
	if e.Session["admin"] != nil {
		t.Errorf("session = %v, the forged directive was applied", e.Session)
	}
	if _, body := get(t, c, p.URL+"/get"); !sameJSON(t, body, `{"age":30,"name":"john doe"}`) {
		t.Errorf("after forged headers /get = %q, want the session intact", body)
	}
}

func TestUpstreamNeverSeesSessionCookie(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)
	get(t, c, p.URL+"/set")
	u, _ := url.Parse(p.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "theme", Value: "dark"}, {Name: "koa.sess.sig", Value: "x"}})
	_, e := getEcho(t, c, p.URL+"/echo")
	if got := e.Headers["Cookie"]; got != "theme=dark" {
		t.Errorf("upstream Cookie header = %q, want only theme=dark", got)
	}
	if e.Session["user"] == nil {
		t.Errorf("the session was lost: %v", e.Session)
	}
}

func TestDirectivesNeverReachClient(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)
	get(t, c, p.URL+"/set")
	resp, _ := getEcho(t, c, p.URL+"/echo?renew=1&maxage=60000&set="+url.QueryEscape(`{"n":1}`)+
		"&header="+url.QueryEscape("Set-Cookie: theme=dark; Path=/"))
	for name := range resp.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-session") {
			t.Errorf("client received %s: %v", name, resp.Header[name])
		}
	}
	var theme bool
	for _, ck := range resp.Cookies() {
		theme = theme || (ck.Name == "theme" && ck.Value == "dark")
	}
	if !theme {
		t.Errorf("the upstream's own Set-Cookie was lost: %v", resp.Header["Set-Cookie"])
	}
	if resp.Header.Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q, want Cookie on a response that sets the session cookie", resp.Header.Get("Vary"))
	}
}

func TestMalformedDirectiveChangesNothing(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	cases := []struct{ name, query string }{
		{"invalid JSON", "set=" + url.QueryEscape(`{"n":`)},
		{"not an object", "set=" + url.QueryEscape(`[1,2]`)},
		{"one bad of two", "set=" + url.QueryEscape(`{"n":2}`) + "&set=" + url.QueryEscape(`"x"`)},
		{"destroy yes", "destroy=yes"},
		{"renew 2", "renew=2"},
		{"max-age word", "maxage=forever&set=" + url.QueryEscape(`{"n":2}`)},
		{"unknown directive", "header=" + url.QueryEscape("X-Session-Sett: {}")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t)
			get(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
			resp, body := get(t, c, p.URL+"/echo?"+tc.query)
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d, body %q; want 502", resp.StatusCode, body)
			}
			if len(sessionCookies(resp, "koa.sess")) != 0 || resp.Header.Get("X-Session-Set") != "" {
				t.Errorf("a failed response carried session headers: %v", resp.Header)
			}
			if !strings.Contains(body, "session directive") {
				t.Errorf("body %q does not say what went wrong", body)
			}
			_, e := getEcho(t, c, p.URL+"/echo")
			if e.Session["n"] != 1.0 {
				t.Errorf("after the bad directive the session is %v, want n=1", e.Session)
			}
		})
	}
}

func TestExpiredCookieGivesFreshSession(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)).set("session.maxAge", 1000))
	c := newClient(t)
	get(t, c, p.URL+"/set")
	if _, e := getEcho(t, c, p.URL+"/echo"); e.Session["user"] == nil {
		t.Fatalf("session lost before it expired: %v", e.Session)
	}
	// The browser would drop the cookie itself; a client that keeps it
	// must still get a fresh session, because the expiry is signed.
	resp, _ := get(t, newClient(t), p.URL+"/set")
	raw := sessionCookies(resp, "koa.sess")[0].Value
	time.Sleep(1200 * time.Millisecond)
	_, e := getEcho(t, http.DefaultClient, p.URL+"/echo", "Cookie: koa.sess="+raw)
	if e.Claims["new"] != true || len(e.Session) != 0 {
		t.Errorf("expired cookie: upstream saw %v, want a new, empty session", e.Claims)
	}
}

func TestMaxAgeDirectiveSticks(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)).set("session.maxAge", "1h"))
	c := newClient(t)
	resp, _ := getEcho(t, c, p.URL+"/echo?maxage=2592000000&set="+url.QueryEscape(`{"remember":true}`))
	ck := sessionCookies(resp, "koa.sess")[0]
	if d := time.Until(ck.Expires); d < 29*24*time.Hour {
		t.Fatalf("cookie expires in %v, want 30 days", d)
	}
	resp, _ = getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
	ck = sessionCookies(resp, "koa.sess")[0]
	if d := time.Until(ck.Expires); d < 29*24*time.Hour {
		t.Errorf("a later save expires in %v: the session's own maxAge was not kept", d)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	old := startProxy(t, baseConfig(up))
	c := newClient(t)
	get(t, c, old.URL+"/set")
	u, _ := url.Parse(old.URL)
	cookies := c.Jar.Cookies(u)

	rotated := startProxy(t, baseConfig(up).set("keys", []string{testKey2, testKey}))
	c2 := newClient(t)
	u2, _ := url.Parse(rotated.URL)
	c2.Jar.SetCookies(u2, cookies)
	if _, body := get(t, c2, rotated.URL+"/get"); !sameJSON(t, body, `{"age":30,"name":"john doe"}`) {
		t.Fatalf("after putting a new key first, /get = %q: the old cookie was not read", body)
	}
	// What the rotated proxy writes is under the new key only.
	get(t, c2, rotated.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
	retired := startProxy(t, baseConfig(up).set("keys", []string{testKey2}))
	c3 := newClient(t)
	u3, _ := url.Parse(retired.URL)
	c3.Jar.SetCookies(u3, c2.Jar.Cookies(u2))
	if _, e := getEcho(t, c3, retired.URL+"/echo"); e.Session["n"] != 1.0 {
		t.Errorf("a proxy with only the new key did not read the re-written cookie: %v", e.Session)
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig("http://127.0.0.1:1"))
	resp, body := get(t, newClient(t), p.URL+"/get")
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "127.0.0.1") {
		t.Errorf("status %d body %q; want 502 with a generic body", resp.StatusCode, body)
	}
	p.waitOutput(t, `"msg":"request failed"`)
}

func TestCheckRejectsTypo(t *testing.T) {
	t.Parallel()
	cfg := baseConfig("http://127.0.0.1:8080").set("session.maxage", 1000).write(t)
	out, err := exec.Command(binary, "-check", "-config", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("-check accepted a config with session.maxage: %s", out)
	}
	if !strings.Contains(string(out), "session.maxage") {
		t.Errorf("-check output does not name the key: %s", out)
	}
	good := baseConfig("http://127.0.0.1:8080").write(t)
	if out, err := exec.Command(binary, "-check", "-config", good).CombinedOutput(); err != nil {
		t.Errorf("-check rejected a good config: %v %s", err, out)
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	tests := []struct {
		name    string
		session map[string]any
		check   func(t *testing.T, c *http.Cookie)
	}{
		{"koa defaults", map[string]any{}, func(t *testing.T, c *http.Cookie) {
			if !c.HttpOnly || c.Secure || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %s, want HttpOnly, Path=/, SameSite=Lax, host-only", c)
			}
			if d := time.Until(c.Expires); d < 23*time.Hour || d > 25*time.Hour {
				t.Errorf("expires in %v, want one day", d)
			}
		}},
		{"everything set", map[string]any{"httpOnly": false, "secure": true, "sameSite": "strict", "path": "/app",
			"domain": "example.test", "maxAge": "session"}, func(t *testing.T, c *http.Cookie) {
			if c.HttpOnly || !c.Secure || c.Path != "/app" || c.Domain != "example.test" || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie %s does not follow the config", c)
			}
			if !c.Expires.IsZero() || c.MaxAge != 0 {
				t.Errorf("maxAge session: cookie %s has an expiry", c)
			}
		}},
		{"secure auto over plain HTTP", map[string]any{"secure": "auto"}, func(t *testing.T, c *http.Cookie) {
			if c.Secure {
				t.Errorf("cookie %s is Secure on a plain-HTTP request", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(up)
			for k, v := range tc.session {
				cfg.set("session."+k, v)
			}
			p := startProxy(t, cfg)
			resp, _ := get(t, http.DefaultClient, p.URL+"/set")
			cs := sessionCookies(resp, "koa.sess")
			if len(cs) != 1 {
				t.Fatalf("Set-Cookie %v", resp.Header["Set-Cookie"])
			}
			tc.check(t, cs[0])
		})
	}
}

func TestSessionTooLargeForCookie(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	c := newClient(t)
	get(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
	big := url.QueryEscape(`{"blob":"` + strings.Repeat("a", 3500) + `"}`) // within session.maxBytes, too large for a cookie
	resp, body := get(t, c, p.URL+"/echo?set="+big)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "too large for a cookie") {
		t.Fatalf("status %d body %q, want 502 saying the session is too large", resp.StatusCode, body)
	}
	if _, e := getEcho(t, c, p.URL+"/echo"); e.Session["n"] != 1.0 || e.Session["blob"] != nil {
		t.Errorf("after the refused save the session is %v, want n=1 only", e.Session)
	}
	p.waitOutput(t, "use store.type memory or redis")
}

func TestUpstreamPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig("http://user:hunter2@127.0.0.1:1"))
	get(t, newClient(t), p.URL+"/get")
	p.waitOutput(t, `"msg":"request failed"`)
	if strings.Contains(p.Output(), "hunter2") {
		t.Errorf("the upstream's password is in the log:\n%s", p.Output())
	}
}
