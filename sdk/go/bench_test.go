package sessionproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

// BenchmarkHandler is the middleware's cost per request, token check
// included, for a signed-in user's session (about 250 bytes of JSON):
// a handler that reads a scalar, one that reads the user map, and one
// that changes a key.
func BenchmarkHandler(b *testing.B) {
	m, err := sessionproxy.New(sessionproxy.Options{Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	data := map[string]any{
		"user": map[string]any{
			"id": 12345, "name": "Jane Doe", "email": "jane.doe@example.com",
			"roles": []any{"customer", "beta"},
		},
		"csrf":  "Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV6cXV1eA",
		"cart":  []any{"sku-1", "sku-2"},
		"theme": "dark",
	}
	req := sessionproxytest.NewRequest(secret, "GET", "/", sessionproxytest.Session{Data: data})
	handlers := map[string]func(s *sessionproxy.Session){
		"read scalar": func(s *sessionproxy.Session) { _ = s.Get("theme") },
		"read map":    func(s *sessionproxy.Session) { _ = s.Get("user").(map[string]any)["name"] },
		"write":       func(s *sessionproxy.Session) { _ = s.Set("theme", "light") },
	}
	for _, name := range []string{"read scalar", "read map", "write"} {
		f := handlers[name]
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f(sessionproxy.FromRequest(r))
			io.WriteString(w, "ok")
		}))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
