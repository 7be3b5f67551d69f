package session

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchData is a typical small session, as koa's example app keeps.
const benchData = `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"csrf":"Yv3a9kPq","n":41}`

// benchCookies returns the cookies a client holds for a session with
// benchData, issued by m.
func benchCookies(b *testing.B, m *Manager) []*http.Cookie {
	b.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := m.Load(context.Background(), r)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, set(benchData), h); err != nil {
		b.Fatal(err)
	}
	cookies := (&http.Response{Header: h}).Cookies()
	if len(cookies) == 0 {
		b.Fatal("no cookie issued")
	}
	return cookies
}

func benchLoad(b *testing.B, o Options) {
	o.Keys = []string{key1}
	m, err := New(o)
	if err != nil {
		b.Skipf("format %q: %v (lands with the koa codec)", o.Format, err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range benchCookies(b, m) {
		r.AddCookie(c)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := m.Load(ctx, r)
		if err != nil || s.IsNew {
			b.Fatalf("Load: %v, new %v", err, s != nil && s.IsNew)
		}
	}
}

// BenchmarkLoad is reading a request's cookie: find it, verify it, decode
// it, parse the record and check its expiry.
func BenchmarkLoad(b *testing.B) {
	b.Run("secure", func(b *testing.B) { benchLoad(b, Options{Format: FormatSecure}) })
	b.Run("koa", func(b *testing.B) { benchLoad(b, Options{Format: FormatKoa}) })
}

// BenchmarkLoadMany is BenchmarkLoad with a different session on every
// load, 20,000 in turn: more than the verified cache holds, so every load
// verifies, decrypts and parses (what test/bench's read-many measures).
func BenchmarkLoadMany(b *testing.B) {
	for _, format := range []Format{FormatSecure, FormatKoa} {
		b.Run(string(format), func(b *testing.B) {
			m, err := New(Options{Format: format, Keys: []string{key1}})
			if err != nil {
				b.Fatal(err)
			}
			reqs := make([]*http.Request, 20_000)
			for i := range reqs {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				s, _ := m.Load(context.Background(), r)
				h := http.Header{}
				// benchData and a number: koa cookies, which have no id,
				// differ only by their data.
				if _, err := m.Commit(context.Background(), r, s, Change{Set: [][]byte{[]byte(benchData), fmt.Appendf(nil, `{"i":%d}`, i)}}, h); err != nil {
					b.Fatal(err)
				}
				reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
				for _, c := range (&http.Response{Header: h}).Cookies() {
					reqs[i].AddCookie(c)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if s, err := m.Load(ctx, reqs[i%len(reqs)]); err != nil || s.IsNew {
					b.Fatalf("Load: %v, new %v", err, s != nil && s.IsNew)
				}
				i++
			}
		})
	}
}

// BenchmarkLoadNoCookie is a request without a session: a fresh one.
func BenchmarkLoadNoCookie(b *testing.B) {
	m, err := New(Options{Keys: []string{key1}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Load(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRecord cuts koa's bookkeeping off a record: validated
// (parseRecord: a koa cookie's or a store's) or one the proxy wrote itself
// (parseOwnRecord: a record just stored; in place: a secure cookie's,
// which it writes to, so each round parses a fresh copy), small or a
// signed-in user's.
func BenchmarkParseRecord(b *testing.B) {
	for _, tc := range []struct{ name, rec string }{
		{"small", `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"csrf":"Yv3a9kPq","n":41,"_expire":1764100000000,"_maxAge":86400000}`},
		{"user", `{"csrf":"Yv3a9kPqZr8WmX2cT5nB7dLf0hJs4gKe","loginAt":1767225600,"n":41,` +
			`"user":{"email":"alexandra.example.0000001@example.com","id":1000001,"locale":"en-GB",` +
			`"name":"Alexandra Example 0000001","roles":["member","editor","billing"],"verified":true},` +
			`"_created":1767225600000,"_used":1767225600000,"_expire":1767312000000,"_maxAge":86400000}`},
	} {
		rec := []byte(tc.rec)
		buf := make([]byte, len(rec))
		for _, parse := range []struct {
			name string
			f    func([]byte) (record, error)
		}{{"valid", parseRecord}, {"own", parseOwnRecord}, {"inplace", func(b []byte) (record, error) {
			return parseOwnRecordInPlace(append(buf[:0], b...))
		}}} {
			b.Run(tc.name+"/"+parse.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := parse.f(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkMergePatch(b *testing.B) {
	doc, patch := []byte(benchData), []byte(`{"n":42,"user":{"age":31}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MergePatch(doc, patch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit is applying an upstream's X-Session-Set to a loaded
// session and issuing its cookie.
func BenchmarkCommit(b *testing.B) {
	for _, tc := range []struct {
		name   string
		format Format
		store  bool // a MemoryStore
		ch     Change
	}{
		{"unchanged", FormatSecure, false, Change{}},
		{"set", FormatSecure, false, set(`{"n":42}`)},
		{"set-same", FormatSecure, false, set(`{"n":41}`)},
		{"set-koa", FormatKoa, false, set(`{"n":42}`)},
		{"set-memory", FormatSecure, true, set(`{"n":42}`)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := Options{Keys: []string{key1}, Format: tc.format}
			if tc.store {
				o.Store, o.TrustStore = NewMemoryStore(MemoryOptions{}), true // as the binary has it
			}
			m, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, c := range benchCookies(b, m) {
				r.AddCookie(c)
			}
			ctx := context.Background()
			loaded, err := m.Load(ctx, r)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s := *loaded
				if _, err := m.Commit(ctx, r, &s, tc.ch, http.Header{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMergePatches is the load benchmark's write: {"n":N} set to
// {"n":N+1}, with the change check.
func BenchmarkMergePatches(b *testing.B) {
	doc, patches := []byte(`{"n":41}`), [][]byte{[]byte(`{"n":42}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, changed, err := mergePatches(doc, patches); err != nil || !changed {
			b.Fatal(err, changed)
		}
	}
}

// BenchmarkMergeUserPatch is a write to a signed-in user's session: one
// key set on a record the proxy wrote (compact, keys sorted), whose other
// members the merge keeps.
func BenchmarkMergeUserPatch(b *testing.B) {
	doc := []byte(`{"csrf":"Yv3a9kPqZr8WmX2cT5nB7dLf0hJs4gKe","loginAt":1767225600,"n":41,` +
		`"user":{"email":"alexandra.example.0000001@example.com","id":1000001,"locale":"en-GB",` +
		`"name":"Alexandra Example 0000001","roles":["member","editor","billing"],"verified":true}}`)
	patches := [][]byte{[]byte(`{"n":42}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, changed, err := mergePatches(doc, patches); err != nil || !changed {
			b.Fatal(err, changed)
		}
	}
}
