package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestDjangoAuthThroughTheProxy: examples/django's django.contrib.auth
// login behind the real proxy. Django's CSRF secret (CSRF_USE_SESSIONS),
// login()'s _auth_user_* keys and the messages framework's _messages are
// "_" keys, which the proxy reserves: the library stores them under
// another name, so the proxy takes them (no 502), and the form's token,
// the login, @login_required and logout() work as with Django's own
// sessions. login() renews the session id (the pre-login cookie opens
// nothing), logout() destroys the session.
func TestDjangoAuthThroughTheProxy(t *testing.T) {
	t.Parallel()
	up := pythonExample("../examples/django/app.py")(t, nil)
	p := startProxy(t, baseConfig(up).set("store.type", "memory"))
	c := newClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	wantLoginRedirect := func(c *http.Client, who string, header ...string) {
		t.Helper()
		resp, body := get(t, c, p.URL+"/accounts/me", header...)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/accounts/login") {
			t.Fatalf("%s: /accounts/me: %d %q (Location %q), want a redirect to the login", who, resp.StatusCode, body, resp.Header.Get("Location"))
		}
	}
	wantLoginRedirect(c, "before the login")
	token := djangoCSRFToken(t, c, p.URL)
	visitor := jarCookies(t, c, p.URL)

	for _, tc := range []struct {
		name string
		form url.Values
		body string
	}{
		{"no CSRF token", url.Values{"username": {"jo"}, "password": {"jo-password"}}, ""},
		{"another CSRF token", url.Values{"username": {"jo"}, "password": {"jo-password"}, "csrfmiddlewaretoken": {strings.Repeat("a", 64)}}, ""},
		{"wrong password", url.Values{"username": {"jo"}, "password": {"nope"}, "csrfmiddlewaretoken": {token}}, "wrong username or password"},
	} {
		if resp, body := postForm(t, c, p.URL+"/accounts/login", tc.form); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %.80q, want 403", tc.name, resp.StatusCode, body)
		}
	}
	form := url.Values{"username": {"jo"}, "password": {"jo-password"}, "csrfmiddlewaretoken": {token}}
	resp, body := postForm(t, c, p.URL+"/accounts/login", form)
	if resp.StatusCode != http.StatusOK || body != "welcome jo" {
		t.Fatalf("login: %d %q", resp.StatusCode, body)
	}
	noDirectives(t, resp, "login")
	wantSessionCookie(t, resp, "login")
	if jarCookies(t, c, p.URL) == visitor {
		t.Error("login() kept the session cookie")
	}
	wantGet(t, c, p.URL+"/accounts/me", http.StatusOK, `{"user":"jo"}`)
	noRedirects := plainClient()
	noRedirects.CheckRedirect = c.CheckRedirect
	wantLoginRedirect(noRedirects, "the pre-login cookie", visitor)

	// login() rotated the CSRF secret: the old token is refused.
	if resp, body := postForm(t, c, p.URL+"/accounts/logout", url.Values{"csrfmiddlewaretoken": {token}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout with the pre-login token: %d %.80q, want 403", resp.StatusCode, body)
	}
	resp, body = postForm(t, c, p.URL+"/accounts/logout", url.Values{"csrfmiddlewaretoken": {djangoCSRFToken(t, c, p.URL)}})
	if resp.StatusCode != http.StatusOK || body != "logged out" {
		t.Fatalf("logout: %d %q", resp.StatusCode, body)
	}
	if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
		t.Errorf("logout did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	wantLoginRedirect(c, "after the logout")

	// Django's messages framework keeps its messages in _messages.
	wantGet(t, c, p.URL+"/flash?msg=saved", http.StatusOK, "flashed")
	wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":["saved"]}`)
	wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":[]}`)
}

// TestDjangoSessionKeyLastsAfterCreate: Django's idiom for a key that
// lasts (if not request.session.session_key: request.session.create()),
// as an anonymous visitor's cart keyed by it uses, behind the real proxy:
// the key create() gives is the one the next requests see, though the
// session holds no data of the app's.
func TestDjangoSessionKeyLastsAfterCreate(t *testing.T) {
	t.Parallel()
	up := pythonExample("../examples/django/app.py")(t, nil)
	p := startProxy(t, baseConfig(up).set("store.type", "memory"))
	c := newClient(t)
	var keys []string
	for i := range 3 {
		resp, body := get(t, c, p.URL+"/visitor")
		var got struct{ Key string }
		if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != http.StatusOK || err != nil || got.Key == "" {
			t.Fatalf("request %d: GET /visitor: %d %q (%v), want a key", i+1, resp.StatusCode, body, err)
		}
		noDirectives(t, resp, "GET /visitor")
		keys = append(keys, got.Key)
	}
	if keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("session_key after create() changed between requests: %q, want one key", keys)
	}
}

var djangoCSRFInput = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

// djangoCSRFToken GETs examples/django's login form and returns its CSRF
// token, whose secret the session now holds.
func djangoCSRFToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, body := get(t, c, base+"/accounts/login")
	m := djangoCSRFInput.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET /accounts/login: %d %.200q, want a form with a CSRF token", resp.StatusCode, body)
	}
	noDirectives(t, resp, "GET /accounts/login")
	return m[1]
}

// postForm POSTs form to url and returns the response with its body read.
func postForm(t *testing.T, c *http.Client, url string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(url, form)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", url, err)
	}
	return resp, string(b)
}
