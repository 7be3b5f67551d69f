package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// startRailsExample runs examples/rails/app.rb, a whole Rails 6.1
// application set up as sdk/ruby/README.md's Rails section says, under
// WEBrick with sdk/ruby on Ruby's load path. It needs Debian's ruby,
// ruby-railties and ruby-webrick (test/run.sh installs them).
func startRailsExample(t *testing.T, env []string) string {
	lib, err := filepath.Abs("../sdk/ruby/lib")
	if err != nil {
		t.Fatal(err)
	}
	return startExample(t, append(env, "RUBYLIB="+lib), requireTool(t, "ruby"), "../examples/rails/app.rb", "--port", "0")
}

// TestRailsCSRFAndResetSessionThroughTheProxy: Rails' own
// protect_from_forgery and reset_session, with SessionProxy::Rack in place
// of the session store, behind the real proxy. The form page's tokens
// come from the CSRF secret in session[:_csrf_token], a key the proxy
// reserves, which the library stores under another name: a POST with its
// form's token goes through, one without it, or with another form's
// (Rails' per-form tokens), is refused with 422 and changes nothing.
// reset_session on logout ends the session at the proxy: the cookie is
// cleared, the next request is a new session with a new id, the cookie
// from before opens nothing, and the old form's token, whose secret went
// with the session, is refused.
func TestRailsCSRFAndResetSessionThroughTheProxy(t *testing.T) {
	t.Parallel()
	up := startRailsExample(t, nil)
	p := startProxy(t, baseConfig(up).set("store.type", "memory"))
	c := newClient(t)
	a := app{up: up, proxy: p.URL}

	tokens := railsFormTokens(t, c, p.URL)
	before := railsWhoami(t, c, p.URL)
	var sess map[string]any
	if err := json.Unmarshal(before.Session, &sess); err != nil || len(sess) != 1 || sess["_csrf_token"] == nil || *before.New {
		t.Fatalf("after the form page: /whoami new %v, session %s (%v), want the CSRF secret alone, read back as _csrf_token",
			*before.New, before.Session, err)
	}
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{"note": {"forged"}}},
		{"the logout form's token", url.Values{"note": {"forged"}, "authenticity_token": {tokens["/logout"]}}},
		{"a made-up token", url.Values{"note": {"forged"}, "authenticity_token": {strings.Repeat("A", 86)}}},
	} {
		if resp, body := postForm(t, c, p.URL+"/note", tc.form); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("POST /note with %s: %d %.80q, want 422", tc.name, resp.StatusCode, body)
		}
	}
	wantRailsNote(t, c, p.URL, "", "after the refused POSTs")
	resp, body := postForm(t, c, p.URL+"/note", url.Values{"note": {"kept"}, "authenticity_token": {tokens["/note"]}})
	if resp.StatusCode != http.StatusOK || body != "noted" {
		t.Fatalf("POST /note with its form's token: %d %.80q, want 200 noted", resp.StatusCode, body)
	}
	noDirectives(t, resp, "POST /note")
	wantRailsNote(t, c, p.URL, "kept", "after the POST with the token")

	old := jarCookies(t, c, p.URL)
	resp, body = postForm(t, c, p.URL+"/logout", url.Values{"authenticity_token": {tokens["/logout"]}})
	if resp.StatusCode != http.StatusOK || body != "logged out" {
		t.Fatalf("POST /logout with its form's token: %d %.80q, want 200 logged out", resp.StatusCode, body)
	}
	noDirectives(t, resp, "POST /logout")
	if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
		t.Errorf("reset_session did not clear the cookie: %v", resp.Header["Set-Cookie"])
	}
	if w := a.wantWhoami(t, c, p.URL, true, `{}`); w.SID != nil && *w.SID == before.sid(t) {
		t.Errorf("after reset_session: session id %q, the one from before", *w.SID)
	}
	a.wantWhoami(t, plainClient(), p.URL, true, `{}`, old)
	if resp, body := postForm(t, c, p.URL+"/note", url.Values{"note": {"late"}, "authenticity_token": {tokens["/note"]}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("POST /note with a token from before reset_session: %d %.80q, want 422", resp.StatusCode, body)
	}
}

var (
	railsFormAction = regexp.MustCompile(`<form [^>]*action="([^"]+)"`)
	railsCSRFInput  = regexp.MustCompile(`<input type="hidden" name="authenticity_token" value="([^"]+)"`)
	railsNote       = regexp.MustCompile(`<p>note: ([^<]*)</p>`)
)

// railsFormTokens GETs examples/rails's form page and returns each form's
// CSRF token by its action.
func railsFormTokens(t *testing.T, c *http.Client, base string) map[string]string {
	t.Helper()
	resp, body := get(t, c, base+"/form")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /form: %d %.200q", resp.StatusCode, body)
	}
	noDirectives(t, resp, "GET /form")
	tokens := map[string]string{}
	for _, form := range strings.Split(body, "</form>") {
		action, token := railsFormAction.FindStringSubmatch(form), railsCSRFInput.FindStringSubmatch(form)
		if action != nil && token != nil {
			tokens[action[1]] = token[1]
		}
	}
	if tokens["/note"] == "" || tokens["/logout"] == "" || tokens["/note"] == tokens["/logout"] {
		t.Fatalf("GET /form: tokens %q, want one for each of /note and /logout in %q", tokens, body)
	}
	return tokens
}

// railsWhoami GETs examples/rails's /whoami and decodes it.
func railsWhoami(t *testing.T, c *http.Client, base string) whoami {
	t.Helper()
	resp, body := get(t, c, base+"/whoami")
	var w whoami
	if err := json.Unmarshal([]byte(body), &w); resp.StatusCode != http.StatusOK || err != nil || w.New == nil {
		t.Fatalf("/whoami: %d %q (%v)", resp.StatusCode, body, err)
	}
	return w
}

// wantRailsNote checks the note examples/rails's form page shows.
func wantRailsNote(t *testing.T, c *http.Client, base, note, when string) {
	t.Helper()
	resp, body := get(t, c, base+"/form")
	m := railsNote.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || m[1] != note {
		t.Fatalf("%s: GET /form: %d, note %q, want %q", when, resp.StatusCode, m, note)
	}
}
