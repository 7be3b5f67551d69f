// Package sessionproxy is the app's side of sessionproxy, a reverse proxy
// that owns the session cookie and hands the session to the app as a
// signed JWT in the X-Session request header. The app changes the session
// with X-Session-* response headers; this package writes them.
//
// Turn it on with three lines:
//
//	m, err := sessionproxy.New(sessionproxy.Options{Secret: os.Getenv("UPSTREAM_SECRET")})
//	// handle err
//	http.ListenAndServe(addr, m.Handler(mux))
//
// and use the session in a handler:
//
//	s := sessionproxy.FromContext(r.Context())
//	s.Set("user", map[string]any{"name": "john doe", "age": 30})
//
// Handler sends the smallest RFC 7396 merge patch from the session the
// request arrived with to the session when the response's headers go
// out, so that two requests of one session that change different keys
// both survive. A request without a valid token gets 401 unless
// Options.Optional is set. Package sessionproxytest mints tokens, so that
// handlers are unit-tested without the proxy.
package sessionproxy
