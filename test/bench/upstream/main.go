// Command upstream is the benchmark's trivial app: it answers every
// request with a small body, and on /write also with a session directive
// that changes the session on every request, so that the proxy must save
// it each time.
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

// handler serves "ok" everywhere; /write also sets {"n":<counter>}.
func handler() http.Handler {
	var n atomic.Int64
	body := []byte("ok\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.URL.Path == "/write" {
			h.Set("X-Session-Set", `{"n":`+strconv.FormatInt(n.Add(1), 10)+`}`)
		}
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	})
}
