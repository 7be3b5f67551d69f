package proxy_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
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
	for _, m := range manyModes(n) {
		b.Run(m.name, func(b *testing.B) {
			h, cookies := m.setUp(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Cookie", cookies.at(i%n))
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

// BenchmarkHandlerMix is test/bench's mix without the network: 100,000
// signed-in users of Zipf popularity (exponent 1), a tenth of the
// requests writes (the upstream sets {"n":42}), in a fixed order. The
// client keeps its cookie, as wrk does, so a write's new cookie is not
// sent again. It shows what the caches save and cost when most requests
// come from a few users and the rest from a long tail; gc-ns/op is the
// CPU the garbage collector took per request (runtime/metrics' estimate),
// and live-MB the live heap at the end, the benchmark's cookies (about
// 70 MB, bare too) included.
//
//	go test ./proxy -run '^$' -bench HandlerMix -benchtime 400000x -cpuprofile cpu.out
func BenchmarkHandlerMix(b *testing.B) {
	const n = 100_000
	seq := zipfRequests(n, 1<<18, 0.1)
	for _, m := range manyModes(n) {
		b.Run(m.name, func(b *testing.B) {
			h, cookies := m.setUp(b, n)
			runtime.GC() // not the sign-ins' garbage
			b.ReportAllocs()
			gc := gcCPU()
			i := 0
			for b.Loop() {
				k := seq[i%len(seq)]
				i++
				path := "/"
				if k < 0 {
					path, k = "/write", -k
				}
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.Header.Set("Cookie", cookies.at(k))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
			// What the caches, full by now, cost the garbage collector:
			// its CPU per request, and what it marks.
			b.StopTimer()
			b.ReportMetric(float64(gcCPU()-gc)/float64(b.N), "gc-ns/op")
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
			runtime.KeepAlive(cookies)
		})
	}
}

// BenchmarkHandlerMixBrowser is BenchmarkHandlerMix with clients that
// keep the cookies they are sent, as browsers do, and writes that change
// the session ({"n":<request number>}): a cookie session's write issues a
// new cookie, which its client sends from then on, and which the codec
// remembers until it comes back. The load benchmark's mix-browser is the
// same traffic over the network (docs/performance-log.md, "Issued
// cookies, remembered until they come back").
//
//	go test ./proxy -run '^$' -bench HandlerMixBrowser -benchtime 400000x
func BenchmarkHandlerMixBrowser(b *testing.B) {
	const n = 100_000
	seq := zipfRequests(n, 1<<18, 0.1)
	for _, m := range manyModes(n) {
		b.Run(m.name, func(b *testing.B) {
			h, cookies := m.setUp(b, n)
			kept := map[int]string{} // the users whose cookies a write replaced
			runtime.GC()
			b.ReportAllocs()
			var patch []byte
			i := 0
			for b.Loop() {
				k := seq[i%len(seq)]
				i++
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if k < 0 {
					k = -k
					patch = strconv.AppendInt(append(patch[:0], `{"n":`...), int64(i), 10)
					r.Header.Set("X-Bench-Set", string(append(patch, '}')))
				}
				cookie, ok := kept[k]
				if !ok {
					cookie = cookies.at(k)
				}
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
				if len(w.Header()["Set-Cookie"]) > 0 {
					var parts []string
					for _, c := range w.Result().Cookies() {
						parts = append(parts, c.Name+"="+c.Value)
					}
					kept[k] = strings.Join(parts, "; ")
				}
			}
			runtime.KeepAlive(cookies)
		})
	}
}

// manyMode is one proxy the many-user benchmarks measure.
type manyMode struct {
	name string
	opts session.Options
}

// manyModes are the bare ReverseProxy (forwarding secure cookies) and
// sessionproxy's cookie formats and memory store, with room for n
// sessions. The memory store is trusted, as the binary's is.
func manyModes(n int) []manyMode {
	return []manyMode{
		{"bare", session.Options{}},
		{"secure", session.Options{Format: session.FormatSecure}},
		{"koa", session.Options{Format: session.FormatKoa}},
		{"memory", session.Options{Store: session.NewMemoryStore(session.MemoryOptions{MaxEntries: 2 * n}), TrustStore: true}},
	}
}

// setUp signs in n users through a sessionproxy of m's sessions (under
// the benchmarks' key, with metrics and the JSON access log) and returns
// the handler to measure, the bare ReverseProxy for "bare", and their
// Cookie headers.
func (m manyMode) setUp(b *testing.B, n int) (http.Handler, cookieJar) {
	b.Helper()
	u, rt, bare := benchUpstream()
	o := m.opts
	o.Keys = []string{"key-0123456789abcdef0123456789abcdef"}
	sm, err := session.New(o)
	if err != nil {
		b.Fatal(err)
	}
	obs, err := metrics.New(prometheus.NewRegistry(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	p := newBenchProxy(b, proxy.Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testKey), Transport: rt, Observer: obs})
	cookies := signIn(b, p, n)
	if m.name == "bare" {
		return bare, cookies
	}
	return p, cookies
}

// signIn signs in users 0 to n-1 through p and returns their Cookie
// headers.
func signIn(b *testing.B, p http.Handler, n int) cookieJar {
	b.Helper()
	var all strings.Builder
	ends := make([]int, n)
	for i := range ends {
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
		all.WriteString(strings.Join(parts, "; "))
		ends[i] = all.Len()
	}
	return cookieJar{all.String(), ends}
}

// cookieJar holds many Cookie headers in one string, so that the
// benchmarks' own cookies cost the garbage collector nothing to mark.
type cookieJar struct {
	all  string
	ends []int // header i is all[ends[i-1]:ends[i]]
}

func (j cookieJar) at(i int) string {
	start := 0
	if i > 0 {
		start = j.ends[i-1]
	}
	return j.all[start:j.ends[i]]
}

// zipfRequests returns count user numbers in [0, n) of Zipf popularity
// with exponent 1 (user k asked for in proportion to 1/(k+1)), in a
// fixed order. A write's number is negated; user 0, the most popular,
// is only read.
func zipfRequests(n, count int, writes float64) []int {
	r := rand.New(rand.NewPCG(1, 2))
	cdf := make([]float64, n)
	sum := 0.0
	for k := range cdf {
		sum += 1 / float64(k+1)
		cdf[k] = sum
	}
	out := make([]int, count)
	for i := range out {
		k, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		k = min(k, n-1)
		if r.Float64() < writes && k > 0 {
			k = -k
		}
		out[i] = k
	}
	return out
}

// gcCPU returns the CPU time the garbage collector has taken so far, in
// ns, as runtime/metrics estimates it.
func gcCPU() int64 {
	sample := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(sample)
	return int64(sample[0].Value.Float64() * 1e9)
}
