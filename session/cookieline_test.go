package session

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCookieFormatWritesWhatStringWrites(t *testing.T) {
	templates := []struct {
		name string
		c    http.Cookie
	}{
		{"defaults", http.Cookie{Name: "koa.sess", Path: "/"}},
		{"every attribute", http.Cookie{Name: "koa.sess", Path: "/app", Domain: "example.com", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, Partitioned: true}},
		{"leading-dot domain, lax", http.Cookie{Name: "s", Path: "/", Domain: ".example.com", SameSite: http.SameSiteLaxMode}},
		{"samesite none", http.Cookie{Name: "s", SameSite: http.SameSiteNoneMode, Secure: true}},
		{"no path", http.Cookie{Name: "s", HttpOnly: true}},
		{"path to clean", http.Cookie{Name: "s", Path: "/a;b c"}},
		{"invalid domain", http.Cookie{Name: "s", Path: "/", Domain: "exa mple.com"}},
		{"invalid name", http.Cookie{Name: "bad name", Path: "/"}},
		{"quoted", http.Cookie{Name: "s", Path: "/", Quoted: true}},
	}
	values := []string{"", "MTcwMDAwMDAwMHxhYmM-ZGVm_Z2hp", "YWJj+ZGVm/Z2hp==", "with space", "comma,value", "semi;colon", "quote\"d", "é"}
	expires := []time.Time{{}, time.Unix(0, 0), time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("X", -7200)), time.Date(1600, 12, 31, 0, 0, 0, 0, time.UTC)}
	for _, tc := range templates {
		t.Run(tc.name, func(t *testing.T) {
			f := newCookieFormat(tc.c)
			for _, v := range values {
				for _, e := range expires {
					ck := tc.c
					ck.Value, ck.Expires = v, e
					if got, want := f.line(&ck), ck.String(); got != want {
						t.Errorf("value %q, expires %v: line %q; String %q", v, e, got, want)
					}
					// The secure codec's way for a value it sealed.
					if f.fits(&ck) && plainCookieValue(v) {
						if got, want := f.plainLineBytes(&ck, []byte(v)), ck.String(); got != want {
							t.Errorf("value %q, expires %v: plainLineBytes %q; String %q", v, e, got, want)
						}
					}
				}
			}
			// Attributes other than the template's, and a MaxAge.
			for _, change := range []func(*http.Cookie){
				func(c *http.Cookie) { c.Secure = !c.Secure },
				func(c *http.Cookie) { c.Path = "/other" },
				func(c *http.Cookie) { c.MaxAge = 60 },
				func(c *http.Cookie) { c.Name = "other" },
			} {
				ck := tc.c
				ck.Value, ck.Expires = "abc", expires[2]
				change(&ck)
				if got, want := f.line(&ck), ck.String(); got != want {
					t.Errorf("changed cookie %+v: line %q; String %q", ck, got, want)
				}
			}
		})
	}
}

func TestPlainCookieValue(t *testing.T) {
	for c := range 256 {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_=+/.~!*", byte(c)) >= 0
		if got := plainCookieValue(string([]byte{byte(c)})); got != want {
			t.Errorf("plainCookieValue(%q) = %v", byte(c), got)
		}
	}
}

func FuzzAppendHTTPDate(f *testing.F) {
	for _, sec := range []int64{0, -1, 1700000000, -11644473600, 253402300799, 253402300800, -62135596800} {
		f.Add(sec, int64(0))
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		got, want := appendHTTPDate(nil, tm), tm.UTC().AppendFormat(nil, http.TimeFormat)
		if string(got) != string(want) {
			t.Fatalf("appendHTTPDate(%v) = %q; want %q", tm, got, want)
		}
	})
}

// BenchmarkPlainCookieValue checks securecookie values: random base64,
// a different one each time, as a proxy sees them.
func BenchmarkPlainCookieValue(b *testing.B) {
	var values []string
	for range 1024 {
		v := make([]byte, 180)
		_, _ = rand.Read(v)
		values = append(values, base64.URLEncoding.EncodeToString(v))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !plainCookieValue(values[i%len(values)]) {
			b.Fatal("not plain")
		}
		i++
	}
}

func BenchmarkCookieLine(b *testing.B) {
	ck := http.Cookie{Name: "koa.sess", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Value:   "MTcwMDAwMDAwMHxhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=",
		Expires: time.Now().Add(time.Hour)}
	f := newCookieFormat(ck)
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = ck.String()
		}
	})
	b.Run("cookieFormat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = f.line(&ck)
		}
	})
}
