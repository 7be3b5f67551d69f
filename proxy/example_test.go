package proxy_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

// A Go program embeds sessionproxy as an http.Handler in front of its
// app. The app reads the session from the X-Session token (a JWT signed
// with TokenSecret) and changes it with X-Session-* response headers; the
// proxy owns the cookie.
func ExampleNew() {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Set", `{"user":{"name":"john doe"}}`)
		fmt.Fprintln(w, "session set")
	}))
	defer app.Close()

	sessions, err := session.New(session.Options{Keys: []string{"a long random key, from your secrets"}})
	if err != nil {
		log.Fatal(err)
	}
	upstream, err := url.Parse(app.URL)
	if err != nil {
		log.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{
		Upstream:    upstream,
		Sessions:    sessions,
		TokenSecret: []byte("the secret the app verifies tokens with"),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(p) // a program would use http.ListenAndServe(":3000", p)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/set")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	for _, c := range resp.Cookies() {
		fmt.Println("cookie:", c.Name)
	}
	fmt.Println("directive reached the client:", resp.Header.Get("X-Session-Set") != "")
	// Output:
	// session set
	// cookie: koa.sess
	// directive reached the client: false
}
