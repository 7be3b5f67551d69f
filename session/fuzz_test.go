package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// secureSession returns a Manager of the secure format and the value of
// a cookie it issued for the session {"a":1}.
func secureSession(f *testing.F) (*Manager, string) {
	m, err := New(Options{Keys: []string{key1}})
	if err != nil {
		f.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, _ := m.Load(context.Background(), r)
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, set(`{"a":1}`), h); err != nil {
		f.Fatal(err)
	}
	return m, (&http.Response{Header: h}).Cookies()[0].Value
}

// FuzzLoadSecure feeds arbitrary cookie values to the secure format: any
// value gives a session (a fresh one unless it verifies), never an error
// or a panic.
func FuzzLoadSecure(f *testing.F) {
	m, issued := secureSession(f)
	f.Add(issued)
	f.Add("")
	f.Add("MTcwMDAwMDAwMHx8")
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "koa.sess="+value)
		s, err := m.Load(context.Background(), r)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if s.Rejected != "" && (!s.IsNew || string(s.Data) != "{}") {
			t.Fatalf("rejected cookie %q gave a session that is not new and empty: %+v", value, s)
		}
		if _, err := m.Commit(context.Background(), r, s, set(`{"b":2}`), http.Header{}); err != nil {
			t.Fatalf("Commit after loading %q: %v", value, err)
		}
	})
}

// FuzzSecureReadsLikeRequestCookie holds the secure format's reader, which
// takes the first cookie of the name unchecked when it is the proxy's, to
// net/http's choice of cookie: for any Cookie headers, in which "$"
// stands for a cookie the proxy issued and "%" for it with a newline
// inside (which base64 decoding skips), the session is read exactly when
// Request.Cookie's value is that cookie; another value of the name is
// rejected, and without one there is no cookie.
func FuzzSecureReadsLikeRequestCookie(f *testing.F) {
	m, issued := secureSession(f)
	for _, tc := range []struct{ a, b string }{
		{"koa.sess=$", ""},
		{`koa.sess="$"`, ""},
		{"koa.sess=$$", ""},               // valid bytes, not the proxy's
		{"koa.sess=a\"b; koa.sess=$", ""}, // no cookie value: net/http reads the next
		{"koa.sess=%; koa.sess=$", ""},
		{"koa.sess=%", ""},
		{"koa.sess=x; koa.sess=$", ""}, // the first valid one counts
		{"koa.sess=a b", "koa.sess=$"},
		{"koa.sess=\x00", "koa.sess=$"},
		{"a=1", "koa.sess=\x7f"},
		{strings.Repeat("a=1; ", 3000) + "koa.sess=$", ""}, // past net/http's limit
	} {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		cookies := strings.NewReplacer("$", issued, "%", issued[:8]+"\n"+issued[8:])
		r := &http.Request{Header: http.Header{"Cookie": {cookies.Replace(a)}}}
		if b != "" {
			r.Header["Cookie"] = append(r.Header["Cookie"], cookies.Replace(b))
		}
		want, err := r.Cookie("koa.sess")
		s, lerr := m.Load(context.Background(), r)
		switch {
		case lerr != nil:
			t.Fatalf("Cookie headers %q: Load: %v", r.Header["Cookie"], lerr)
		case err != nil:
			if s.Rejected != "" || !s.IsNew {
				t.Fatalf("Cookie headers %q: net/http finds no cookie; Load gave %+v", r.Header["Cookie"], s)
			}
		case want.Value == issued:
			if s.Rejected != "" || s.IsNew || string(s.Data) != `{"a":1}` {
				t.Fatalf("Cookie headers %q: net/http reads the issued cookie; Load gave %+v", r.Header["Cookie"], s)
			}
		default:
			if s.Rejected != RejectTampered {
				t.Fatalf("Cookie headers %q: net/http reads %q, not the issued cookie; Load gave %+v", r.Header["Cookie"], want.Value, s)
			}
		}
	})
}

// FuzzRequestCookie holds requestCookie to Request.Cookie: the same value,
// or none, for any Cookie headers.
func FuzzRequestCookie(f *testing.F) {
	for _, tc := range []struct{ a, b string }{
		{"koa.sess=abc", ""},
		{"theme=dark; koa.sess=abc; koa.sess.sig=x", ""},
		{`koa.sess="quoted"`, "koa.sess=second"},
		{"koa.sess=bad\\value; koa.sess=good", ""},
		{" \tkoa.sess = spaced ;", "x=1"},
		{`koa.sess="`, `koa.sess=""`},
		{"koa.sess=a b,c", ";;koa.sess=d"},
		{strings.Repeat("a=1; ", 2999) + "koa.sess=within", ""},
		{strings.Repeat("a=1; ", 3000) + "koa.sess=beyond", ""}, // net/http's limit
		// At the limit in semicolons alone, where a header shorter than
		// the limit is not counted.
		{strings.Repeat(";", 2999) + "koa.sess=at", ""},
		{strings.Repeat(";", 3000) + "koa.sess=over", ""},
		{strings.Repeat(";", 1499) + "koa.sess=at", strings.Repeat(";", 1499)},
		{strings.Repeat(";", 1499) + "koa.sess=over", strings.Repeat(";", 1500)},
	} {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		r := &http.Request{Header: http.Header{"Cookie": {a}}}
		if b != "" {
			r.Header["Cookie"] = append(r.Header["Cookie"], b)
		}
		want, err := r.Cookie("koa.sess")
		got, ok := requestCookie(r.Header, "koa.sess")
		if ok != (err == nil) || (ok && got != want.Value) {
			t.Fatalf("Cookie headers %q: requestCookie = %q, %v; Request.Cookie = %+v, %v", r.Header["Cookie"], got, ok, want, err)
		}
	})
}
