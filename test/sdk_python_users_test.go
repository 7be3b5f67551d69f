package test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestPythonLogsOutOtherDevices: sdk/python's destroy_others() and
// destroy_all(), in the Flask, WSGI, FastAPI and Django examples (sdk/java's
// destroyOthers() and destroyAll() in examples/java-servlet, sdk/ruby's in the
// Sinatra and Rails examples, and the PHP example's destroyOthers() and destroyAll())
// behind the real proxy with
// session.userKey: one user signed in from two browsers, a third browser
// another user's. "Log out other devices" ends the other browser's session
// and keeps this one; "log out everywhere" ends both; the other user is
// never touched. Without session.userKey the proxy refuses the directive
// with 502 and the session is left as it was.
func TestPythonLogsOutOtherDevices(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(t *testing.T, env []string) string{
		"flask":   pythonExample("../examples/flask/app.py"),
		"wsgi":    pythonExample("../examples/wsgi/app.py"),
		"fastapi": pythonExample("../examples/fastapi/app.py"),
		"php":     startPHPExample, // the same routes without a library in sdk/
		"django":  pythonExample("../examples/django/app.py"),
		"sinatra": startSinatraExample, // sdk/ruby's destroy_others and destroy_all
		"rails":   startRailsExample,   // the same, from a Rails controller
		// sdk/java's ProxySession.destroyOthers() and destroyAll(), the same routes.
		"java-servlet": startJavaServletExample,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := start(t, nil)
			p := startProxy(t, baseConfig(up).set("store.type", "memory").set("session.userKey", "user.id"))
			here, there, someoneElse := newClient(t), newClient(t), newClient(t)
			signIn := func(c *http.Client, id string) {
				t.Helper()
				wantGet(t, c, p.URL+"/signin?id="+id, http.StatusOK, "signed in")
			}
			signIn(here, "u1")
			signIn(there, "u1")
			signIn(someoneElse, "u2")

			wantGet(t, here, p.URL+"/logout-others", http.StatusOK, "other devices logged out")
			wantPythonUser(t, here, p.URL, "u1", "the device that logged out the others")
			wantPythonUser(t, there, p.URL, "", "the other device")
			wantPythonUser(t, someoneElse, p.URL, "u2", "another user")

			signIn(there, "u1")
			wantGet(t, here, p.URL+"/logout-all", http.StatusOK, "logged out everywhere")
			wantPythonUser(t, here, p.URL, "", "the device that logged out everywhere")
			wantPythonUser(t, there, p.URL, "", "the other device")
			wantPythonUser(t, someoneElse, p.URL, "u2", "another user")

			plain := startProxy(t, baseConfig(up).set("store.type", "memory"))
			c := newClient(t)
			wantGet(t, c, plain.URL+"/signin?id=u1", http.StatusOK, "signed in")
			for _, path := range []string{"/logout-others", "/logout-all"} {
				if resp, body := get(t, c, plain.URL+path); resp.StatusCode != http.StatusBadGateway {
					t.Errorf("%s without session.userKey: %d %q, want 502", path, resp.StatusCode, body)
				}
			}
			wantPythonUser(t, c, plain.URL, "u1", "a session whose logouts the proxy refused")
		})
	}
}

// wantPythonUser checks the user id the Python example's /whoami reads
// from browser c's session at base ("" for none).
func wantPythonUser(t *testing.T, c *http.Client, base, id, who string) {
	t.Helper()
	resp, body := get(t, c, base+"/whoami")
	var w struct {
		Session struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(body), &w); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("%s: /whoami: %d %q (%v)", who, resp.StatusCode, body, err)
	}
	if w.Session.User.ID != id {
		t.Errorf("%s: /whoami: session %s, want user %q", who, body, id)
	}
}
