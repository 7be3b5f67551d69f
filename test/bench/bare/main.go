// Command bare is the benchmark's limit: a plain httputil.ReverseProxy
// with the same Transport as sessionproxy (proxy.NewTransport), the same
// server settings and, like sessionproxy, a pool of copy buffers (without
// one ReverseProxy allocates 32 KiB per response, which would make the
// limit slower than sessionproxy), doing nothing but proxying.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "upstream base URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("-upstream %q: want an absolute URL", *upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  proxy.NewTransport(proxy.TransportOptions{}),
		BufferPool: proxy.NewBufferPool(),
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	log.Fatal(srv.ListenAndServe())
}
