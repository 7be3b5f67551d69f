package proxy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/metrics"
	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

// manyUser is the session of signed-in user i, about 250 bytes of JSON,
// as test/bench/upstream's /login makes it.
func manyUser(i int) string {
	return fmt.Sprintf(`{"user":{"id":%d,"name":"Alexandra Example %07d","email":"alexandra.example.%07d@example.com",`+
		`"roles":["member","editor","billing"],"locale":"en-GB","verified":true},"csrf":"Yv3a9kPqZr8WmX2cT5nB7dLf0hJs4gKe%011d","loginAt":1767225600}`,
		1_000_000+i, i, i, i)
}

// BenchmarkHandlerMany is BenchmarkHandler's read with a different
// signed-in user on every request, 20,000 in turn: more than the
// verified-cookie cache holds, so every request verifies and decodes its
// cookie (or reads the store), parses the record and signs a new token:
// the cold path that test/bench's read-many drives, without the network.
//
//	go test ./proxy -run '^$' -bench HandlerMany -cpuprofile cpu.out -memprofile mem.out
func BenchmarkHandlerMany(b *testing.B) {
	const n = 20_000
	u, rt, bare := benchUpstream()
	for _, tc := range []struct {
		name string
		opts session.Options
	}{
		{"bare", session.Options{}},
		{"secure", session.Options{Format: session.FormatSecure}},
		{"koa", session.Options{Format: session.FormatKoa}},
		{"memory", session.Options{Store: session.NewMemoryStore(session.MemoryOptions{MaxEntries: 2 * n})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.opts.Keys = []string{"key-0123456789abcdef0123456789abcdef"}
			sm, err := session.New(tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			m, err := metrics.New(prometheus.NewRegistry(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			p := newBenchProxy(b, proxy.Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testKey), Transport: rt, Observer: m})
			cookies := make([]string, n)
			for i := range cookies {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("X-Bench-Set", manyUser(i))
				p.ServeHTTP(w, r)
				var parts []string
				for _, c := range w.Result().Cookies() {
					parts = append(parts, c.Name+"="+c.Value)
				}
				if len(parts) == 0 {
					b.Fatalf("no cookie: %d %q", w.Code, w.Header())
				}
				cookies[i] = strings.Join(parts, "; ")
			}
			var h http.Handler = p
			if tc.name == "bare" {
				h = bare
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Cookie", cookies[i%n])
				i++
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || len(w.Header()["Set-Cookie"]) != 0 {
					b.Fatalf("status %d, Set-Cookie %q", w.Code, w.Header()["Set-Cookie"])
				}
			}
		})
	}
}
