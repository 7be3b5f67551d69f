package test

import (
	"net/http"
	"strings"
	"testing"
)

// TestGoNodeAndPHPReadingTheSessionVariesOnCookie is
// TestPythonReadingTheSessionVariesOnCookie for the Go, Koa, Express and
// PHP examples: /get reads the session and sets no cookie, so the proxy adds
// no Vary, and the library must say Vary: Cookie for a shared cache not
// to hand one visitor's page to another.
func TestGoNodeAndPHPReadingTheSessionVariesOnCookie(t *testing.T) {
	t.Parallel()
	examples := []struct {
		name  string
		start func(t *testing.T, env []string) string
	}{
		{"go", startGoExample},
		{"koa", nodeExample("koa")},
		{"express", nodeExample("express")},
		{"php", startPHPExample},
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
