package test

import (
	"net/http"
	"strings"
	"testing"
)

// TestReadingTheSessionVariesOnCookie: a page that reads the session
// depends on the cookie even when it sets none, so every example's library
// must say Vary: Cookie, as Flask's and Django's own sessions do: the proxy
// adds it only to a response that sets the cookie, and a shared cache
// would otherwise hand one visitor's page to another.
func TestReadingTheSessionVariesOnCookie(t *testing.T) {
	t.Parallel()
	examples := []struct {
		name  string
		start func(t *testing.T, env []string) string
	}{
		{"flask", pythonExample("../examples/flask/app.py")},
		{"wsgi", pythonExample("../examples/wsgi/app.py")},
		{"fastapi", pythonExample("../examples/fastapi/app.py")},
		{"django", pythonExample("../examples/django/app.py")},
		{"go", startGoExample},
		{"java-servlet", startJavaServletExample},
		{"koa", nodeExample("koa")},
		{"express", nodeExample("express")},
		{"fastify", nodeExample("fastify")},
		{"php", startPHPExample},
		{"sinatra", startSinatraExample},
		{"rails", startRailsExample},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			up := ex.start(t, nil)
			p := startProxy(t, baseConfig(up).set("store.type", "memory"))
			c := newClient(t)
			wantGet(t, c, p.URL+"/set", http.StatusOK, "session set")
			resp := wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
			if len(resp.Header["Set-Cookie"]) != 0 {
				t.Fatalf("/get set a cookie: %v", resp.Header["Set-Cookie"])
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Cookie") {
				t.Errorf("/get read the session; Vary = %q, want Cookie", resp.Header.Values("Vary"))
			}
		})
	}
}
