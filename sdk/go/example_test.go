package sessionproxy_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

// The middleware in front of a mux: /login stores the user and renews the
// session id; /me reads it. The requests are minted by sessionproxytest,
// as a unit test of the app would; behind the proxy they come with the
// proxy's token.
func Example() {
	m, err := sessionproxy.New(sessionproxy.Options{Secret: "the proxy's token.secret"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromContext(r.Context())
		if err := s.Set("user", map[string]any{"name": "john doe", "age": 30}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Renew() // a new session id after login
		fmt.Fprintln(w, "welcome")
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(sessionproxy.FromContext(r.Context()).Get("user"))
	})
	app := m.Handler(mux)

	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, sessionproxytest.NewRequest("the proxy's token.secret", "GET", "/login", sessionproxytest.Session{New: true}))
	fmt.Println(rec.Header().Get("X-Session-Set"), rec.Header().Get("X-Session-Renew"))

	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, sessionproxytest.NewRequest("the proxy's token.secret", "GET", "/me", sessionproxytest.Session{
		Data: map[string]any{"user": map[string]any{"name": "john doe", "age": 30}},
	}))
	fmt.Print(rec.Body.String())

	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/me", nil)) // no token
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// {"user":{"age":30,"name":"john doe"}} true
	// {"age":30,"name":"john doe"}
	// 401 401 unauthorized: no valid session token
}
