package test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// startPHPPage serves page, a PHP script that has $session from
// examples/php/sessionproxy.php's start(), with php -S (one process, no
// workers), without the proxy: the tests send their own tokens.
func startPHPPage(t *testing.T, page string) string {
	php := requireTool(t, "php")
	lib, err := filepath.Abs("../examples/php/sessionproxy.php")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "page.php")
	src := "<?php\ndeclare(strict_types=1);\nrequire " + strconv.Quote(lib) + ";\n" +
		"$session = SessionProxy\\start(secret: getenv('UPSTREAM_SECRET'));\n" + page
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, m := startProcess(t, phpServing, []string{"UPSTREAM_SECRET=" + testSecret}, php, "-S", "127.0.0.1:0", script)
	return "http://" + m[1]
}

// TestPHPIncludeVariesOnIDAndIsNew: a page that shows something by the
// session's id or newness ("welcome back") depends on the cookie as much
// as one that reads its data, so it says Vary: Cookie, as Go's ID() and
// IsNew(), Koa's getId() and Python's id and is_new do.
func TestPHPIncludeVariesOnIDAndIsNew(t *testing.T) {
	t.Parallel()
	up := startPHPPage(t, `switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
case '/is-new': echo $session->isNew ? 'welcome' : 'welcome back'; break;
case '/id': echo 'session ', $session->id; break;
case '/claims': echo 'expires ', $session->claims['exp']; break;
case '/own-vary': header('Vary: Accept-Encoding, cookie'); echo 'session ', $session->id; break;
default: echo 'untouched';
}`)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sid": "s1", "sess": map[string]any{"user": "jo"}, "new": false,
		"iss": "sessionproxy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	for path, vary := range map[string]bool{"/is-new": true, "/id": true, "/claims": true, "/untouched": false} {
		resp, body := get(t, plainClient(), up+path, "X-Session: "+token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d %q", path, resp.StatusCode, body)
		}
		if got := strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Cookie"); got != vary {
			t.Errorf("%s (%q): Vary = %q, want Cookie: %v", path, body, resp.Header.Values("Vary"), vary)
		}
	}
	// A Vary of the app's own that names Cookie already gets no second one.
	resp, body := get(t, plainClient(), up+"/own-vary", "X-Session: "+token)
	if got := resp.Header.Values("Vary"); resp.StatusCode != http.StatusOK || len(got) != 1 || got[0] != "Accept-Encoding, cookie" {
		t.Errorf("/own-vary: status %d %q, Vary = %q, want the app's own only", resp.StatusCode, body, got)
	}
}

// TestPHPIncludeReplacesDirectivesSetByHand: the include owns the
// directive headers, as every library does: ones the app wrote itself
// with header() (any case) would undo or add to the session's changes, so
// only the session's own reach the proxy. Another X-Session- name is left
// for the proxy to refuse.
func TestPHPIncludeReplacesDirectivesSetByHand(t *testing.T) {
	t.Parallel()
	up := startPHPPage(t, `header('X-Session-Destroy: true');
header('x-session-renew: true');
header('X-Session-Set: {"b":2}');
header('X-Session-Id: mine');
$session['a'] = 1;
echo 'ok';`)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sid": "s1", "sess": map[string]any{}, "new": false,
		"iss": "sessionproxy", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, plainClient(), up+"/", "X-Session: "+token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("X-Session-Set"); len(got) != 1 || got[0] != `{"a":1}` {
		t.Errorf("X-Session-Set = %q, want only the session's change", got)
	}
	for _, name := range []string{"X-Session-Destroy", "X-Session-Renew"} {
		if got := resp.Header.Values(name); len(got) != 0 {
			t.Errorf("%s = %q: set by hand, it reached the proxy", name, got)
		}
	}
	if got := resp.Header.Get("X-Session-Id"); got != "mine" {
		t.Errorf("X-Session-Id = %q, want it left as the app wrote it", got)
	}
}

// TestPHPIncludeRefusesWhatTheLibrariesRefuse: a token signed with the
// secret but not shaped as the proxy's (no sess object, a new or sid of
// another type) is refused with 401, as Go's Verify refuses it, rather
// than read through PHP's casts ((bool) "false" is true).
func TestPHPIncludeRefusesWhatTheLibrariesRefuse(t *testing.T) {
	t.Parallel()
	up := startPHPPage(t, `echo json_encode(['sid' => $session->id, 'new' => $session->isNew, 'sess' => $session]);`)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := itoa(time.Now().Add(time.Minute).Unix())
	sign := func(payload string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{}).SigningString()
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(tok, ".")
		signed := head + "." + b64(payload)
		sig, err := jwt.SigningMethodHS256.Sign(signed, []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	tests := []struct {
		name    string
		payload string
		status  int
	}{
		{"the proxy's shape", `{"sid":"s","sess":{"a":1},"new":false,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusOK},
		{"no sid (the koa format)", `{"sess":{},"new":true,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusOK},
		{"no sess", `{"sid":"s","new":false,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
		{"sess null", `{"sid":"s","sess":null,"new":false,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
		{"new a string", `{"sid":"s","sess":{},"new":"false","iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
		{"new a number", `{"sid":"s","sess":{},"new":0,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
		{"sid a list", `{"sid":["s"],"sess":{},"new":false,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
		{"sid a number", `{"sid":1,"sess":{},"new":false,"iss":"sessionproxy","exp":` + exp + `}`, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		resp, body := get(t, plainClient(), up+"/", "X-Session: "+sign(tc.payload))
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d (%.100q), want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
}

// TestPHPIncludeKeepsEmptyObjectsBehindTheProxy: empty objects in the
// session ({"prefs":{}}, nested too), which PHP reads as [], are still
// objects in the session the proxy keeps after the app writes another
// key, a nested key beside them, or the whole session again after a
// destroy: the next token carries them as {}.
func TestPHPIncludeKeepsEmptyObjectsBehindTheProxy(t *testing.T) {
	t.Parallel()
	up := startPHPPage(t, `switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
case '/init': $session['prefs'] = new stdClass(); $session['user'] = ['prefs' => new stdClass(), 'n' => 1]; break;
case '/write': $session['a'] = 1; break;
case '/nested': $session['user']['n'] = 2; break;
case '/again':
    $all = $session->toArray();
    $session->destroy();
    foreach ($all as $k => $v) {
        $session[$k] = $v;
    }
    break;
case '/token': echo base64_decode(strtr(explode('.', $_SERVER['HTTP_X_SESSION'])[1], '-_', '+/')); exit;
}
echo 'ok';`)
	p := startProxy(t, baseConfig(up).set("log.access", false))
	c := newClient(t)
	for _, step := range []struct{ path, want string }{
		{"/init", `{"prefs":{},"user":{"prefs":{},"n":1}}`},
		{"/write", `{"prefs":{},"user":{"prefs":{},"n":1},"a":1}`},
		{"/nested", `{"prefs":{},"user":{"prefs":{},"n":2},"a":1}`},
		{"/again", `{"prefs":{},"user":{"prefs":{},"n":2},"a":1}`},
	} {
		if resp, body := get(t, c, p.URL+step.path); resp.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("%s: status %d %q", step.path, resp.StatusCode, body)
		}
		_, body := get(t, c, p.URL+"/token")
		var claims struct {
			Sess json.RawMessage `json:"sess"`
		}
		if err := json.Unmarshal([]byte(body), &claims); err != nil {
			t.Fatalf("after %s: token payload %q: %v", step.path, body, err)
		}
		if !sameJSON(t, string(claims.Sess), step.want) {
			t.Errorf("after %s: the proxy's session is %s, want %s", step.path, claims.Sess, step.want)
		}
	}
}
