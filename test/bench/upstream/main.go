// Command upstream is the benchmark's trivial app: it answers every
// request with a small body; on /write also with a session directive
// that changes the session on every request, so that the proxy must save
// it each time; and on /login with the session of a signed-in user, a
// realistic size for a session (about 250 bytes of JSON).
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, handler()))
}

// handler serves "ok" everywhere; /write also sets {"n":<counter>} (and
// echoes ?u= as X-Bench-User), and /login a new signed-in user
// (userSession).
func handler() http.Handler {
	var n, users atomic.Int64
	body := []byte("ok\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/write":
			h.Set("X-Session-Set", `{"n":`+strconv.FormatInt(n.Add(1), 10)+`}`)
			if u := r.URL.Query().Get("u"); u != "" {
				h.Set("X-Bench-User", u) // whose cookie the response sets, for mix-browser's wrk
			}
		case "/login":
			h.Set("X-Session-Set", userSession(users.Add(1)))
		}
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	})
}

// userSession is the session of signed-in user i, as an app keeps it: an
// id, a name, an email, roles, and a CSRF token. It is about 250 bytes
// of JSON, and different for every i.
func userSession(i int64) string {
	// A CSRF token of 32 random-looking bytes, base64url: 43 characters.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var csrf [43]byte
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for k := range csrf {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		csrf[k] = alphabet[x%64]
	}
	return fmt.Sprintf(`{"user":{"id":%d,"name":"Alexandra Example %07d","email":"alexandra.example.%07d@example.com",`+
		`"roles":["member","editor","billing"],"locale":"en-GB","verified":true},"csrf":%q,"loginAt":1767225600}`,
		1_000_000+i, i, i, csrf[:])
}
