// Command bare is the benchmark's limit: a plain httputil.ReverseProxy
// with the same Transport as sessionproxy (proxy.NewTransport), the same
// server settings and, like sessionproxy, a pool of copy buffers (without
// one ReverseProxy allocates 32 KiB per response, which would make the
// limit slower than sessionproxy), doing nothing but proxying.
//
// With -work N it also hashes N KiB (SHA-256) per request: pure CPU work
// on data already in the cache, the yardstick the driver's -calibrate
// runs beside the modes, to show what a given amount of a proxy's own
// work costs per request in this layout.
//
// With -token N it sends the upstream what sessionproxy sends in place
// of the client's cookies: no Cookie header, and an X-Session header of
// N bytes (a fixed string, made once): the yardstick the driver's
// -calibrate-token runs, to show what carrying a session's token to the
// upstream costs in this layout with none of the work of making it.
package main

import (
	"crypto/sha256"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "upstream base URL")
	work := flag.Int("work", 0, "KiB to hash with SHA-256 per request: CPU work to add")
	token := flag.Int("token", 0, "send the upstream an X-Session header of this many bytes instead of the Cookie header (0: forward the request as it is)")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("-upstream %q: want an absolute URL", *upstream)
	}
	rp := newProxy(u, *work, *token)
	srv := &http.Server{
		Addr:              *addr,
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	log.Fatal(srv.ListenAndServe())
}

// newProxy returns the bare proxy to u, hashing work KiB per request
// and, when tokenBytes > 0, sending a tokenBytes-byte X-Session header in
// place of the Cookie header.
func newProxy(u *url.URL, work, tokenBytes int) *httputil.ReverseProxy {
	token := []string{strings.Repeat("t", tokenBytes)}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			hashWork(work)
			if tokenBytes > 0 {
				pr.Out.Header.Del("Cookie")
				pr.Out.Header["X-Session"] = token
			}
		},
		Transport:  proxy.NewTransport(proxy.TransportOptions{}),
		BufferPool: proxy.NewBufferPool(),
	}
}

// workBlock is what hashWork hashes, once per KiB of work.
var workBlock [1024]byte

// hashWork hashes workBlock kib times: CPU work on data already in the
// cache, which the compiler cannot drop (SHA-256's blocks are assembly).
func hashWork(kib int) {
	for range kib {
		sha256.Sum256(workBlock[:])
	}
}
