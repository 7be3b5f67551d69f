package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

const benchData = `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"csrf":"Yv3a9kPq","n":41}`

func benchProxy(b *testing.B, upstream string) *Proxy {
	b.Helper()
	u, _ := url.Parse(upstream)
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret)})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkToken is minting the session JWT for a loaded session, HS256
// and with each kind of key: "sign" a new token each time, "repeat" a
// token reused (HS256: in the same second; a key: within a quarter of
// the ttl).
func BenchmarkToken(b *testing.B) {
	for _, alg := range []string{"HS256", "EdDSA", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			m := newMinter([]byte(testSecret), time.Minute)
			switch alg {
			case "EdDSA":
				m = newKeyMinter(testKey(b, "ed25519"), time.Minute)
			case "ES256":
				m = newKeyMinter(testKey(b, "p256"), time.Minute)
			}
			s := &session.Session{ID: session.NewID(), Data: []byte(benchData)}
			now := time.Now()
			b.Run("sign", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					now = now.Add(time.Minute)
					_, _ = m.mint(s, "", now)
				}
			})
			b.Run("repeat", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, _ = m.mint(s, "", now)
				}
			})
		})
	}
}

// BenchmarkParseDirectives is reading an upstream's directives.
func BenchmarkParseDirectives(b *testing.B) {
	p := benchProxy(b, "http://127.0.0.1:1")
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		h["X-Session-Set"] = []string{`{"n":42,"user":{"age":31}}`}
		h["X-Session-Max-Age"] = []string{"3600000"}
		if _, err := p.parseDirectives(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTP is a whole proxied request through httptest: the
// bare httputil.ReverseProxy with the same Transport and buffer pool (the
// limit) beside
// sessionproxy without a cookie, with a cookie it only reads, and with an
// upstream that changes the session on every request. Compare their
// ns/op; the difference is the session's cost.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/write" {
			w.Header().Set("X-Session-Set", `{"n":42}`)
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	bare := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  NewTransport(TransportOptions{}),
		BufferPool: NewBufferPool(), // as the Proxy has: the limit is the best plain proxy
	}
	p := benchProxy(b, up.URL)

	// A client's cookie for a session holding benchData.
	var cookie string
	{
		setUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Session-Set", benchData)
		}))
		defer setUp.Close()
		w := httptest.NewRecorder()
		benchProxy(b, setUp.URL).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		cookie = w.Header().Get("Set-Cookie")
		if cookie == "" {
			b.Fatal("no cookie")
		}
		c, _ := http.ParseSetCookie(cookie)
		cookie = c.Name + "=" + c.Value
	}

	for _, tc := range []struct {
		name    string
		h       http.Handler
		path    string
		cookie  bool
		cookies int // Set-Cookie headers in the response
	}{
		{"bare", bare, "/", false, 0},
		{"new", p, "/", false, 0},
		{"read", p, "/", true, 0},
		{"write", p, "/write", true, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, tc.path, nil)
				r.Header.Set("Cookie", "theme=dark")
				if tc.cookie {
					r.Header.Set("Cookie", "theme=dark; "+cookie)
				}
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || len(w.Header()["Set-Cookie"]) != tc.cookies {
					b.Fatalf("status %d, Set-Cookie %q", w.Code, w.Header()["Set-Cookie"])
				}
			}
		})
	}
}
