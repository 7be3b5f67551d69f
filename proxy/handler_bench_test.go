package proxy_test

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/metrics"
	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

// BenchmarkHandler is here, outside package proxy, because it measures
// the proxy with its metrics, and metrics imports proxy.

const benchData = `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"csrf":"Yv3a9kPq","n":41}`

// roundTripFunc is an http.RoundTripper that answers without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkHandler is BenchmarkServeHTTP without the network: the upstream
// is a RoundTripper that answers at once, so ns/op and allocs/op are the
// proxies' own, steady enough to compare one change. "bare" is the plain
// httputil.ReverseProxy; "read" and "write" are sessionproxy (secure
// cookie, metrics, a JSON access log to io.Discard).
func BenchmarkHandler(b *testing.B) {
	u, rt, bare := benchUpstream()
	m, err := metrics.New(prometheus.NewRegistry(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	// A proxy of o's sessions and the Cookie header of a session holding
	// benchData in it.
	withSession := func(o session.Options) (*session.Manager, http.Handler, string) {
		o.Keys = []string{"key-0123456789abcdef0123456789abcdef"}
		sm, err := session.New(o)
		if err != nil {
			b.Fatal(err)
		}
		p := newBenchProxy(b, proxy.Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testKey), Transport: rt, Observer: m})
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Bench-Set", benchData)
		p.ServeHTTP(w, r)
		c, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
		if err != nil {
			b.Fatal(err)
		}
		return sm, p, "theme=dark; " + c.Name + "=" + c.Value
	}
	sm, p, cookie := withSession(session.Options{})
	withKey := func(kind, alg string) http.Handler { // read, its token signed with a key
		pem, _ := token.Generate(kind)
		k, err := token.ParseKey(pem, alg)
		if err != nil {
			b.Fatal(err)
		}
		return newBenchProxy(b, proxy.Options{Upstream: u, Sessions: sm, TokenKey: k, Transport: rt, Observer: m})
	}
	// The same with the memory store: the cookie holds the id.
	_, mp, memCookie := withSession(session.Options{Store: session.NewMemoryStore(session.MemoryOptions{}), TrustStore: true})

	for _, tc := range []struct {
		name    string
		h       http.Handler
		path    string
		cookies int    // Set-Cookie lines expected; -1: any
		cookie  string // "": the secure cookie's
	}{
		{"bare", bare, "/", 0, ""},
		{"read", p, "/", 0, ""},
		{"read-eddsa", withKey("ed25519", token.EdDSA), "/", 0, ""},
		{"read-es256", withKey("p256", token.ES256), "/", 0, ""},
		{"bare-write", bare, "/write", 0, ""},
		{"write", p, "/write", 1, ""},
		{"read-memory", mp, "/", 0, memCookie},
		{"write-memory", mp, "/write", -1, memCookie}, // the same id: a cookie when its expiry moves
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, tc.path, nil)
				r.Header.Set("Cookie", cmp.Or(tc.cookie, cookie))
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || (tc.cookies >= 0 && len(w.Header()["Set-Cookie"]) != tc.cookies) {
					b.Fatalf("status %d, Set-Cookie %q", w.Code, w.Header()["Set-Cookie"])
				}
			}
		})
	}
}

// newBenchProxy returns the proxy of o, logging access lines as the
// binary does by default.
func newBenchProxy(b *testing.B, o proxy.Options) *proxy.Proxy {
	b.Helper()
	o.AccessLog = proxy.JSONAccessLog(io.Discard)
	p, err := proxy.New(o)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchUpstream returns the benchmarks' upstream, a RoundTripper that
// answers at once (on /write, or with an X-Bench-Set request header, with
// an X-Session-Set), and the bare httputil.ReverseProxy in front of it.
func benchUpstream() (*url.URL, roundTripFunc, *httputil.ReverseProxy) {
	u, _ := url.Parse("http://upstream.test")
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"3"}}
		if r.URL.Path == "/write" {
			h.Set("X-Session-Set", `{"n":42}`)
		}
		if v := r.Header.Get("X-Bench-Set"); v != "" {
			h.Set("X-Session-Set", v)
		}
		return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader("ok\n")),
			ContentLength: 3, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
	})
	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  rt,
		BufferPool: proxy.NewBufferPool(),
	}
	return u, rt, bare
}
