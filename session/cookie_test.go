package session

import (
	"net/http"
	"strings"
	"testing"
)

func TestStripCookies(t *testing.T) {
	m := newManager(t, Options{})
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"only session", []string{"koa.sess=abc; koa.sess.sig=def"}, nil},
		{"others kept", []string{"a=1; koa.sess=abc; b=2"}, []string{"a=1; b=2"}},
		{"similar names kept", []string{"koa.sess2=x; xkoa.sess=y; koa.sess.sig2=z"}, []string{"koa.sess2=x; xkoa.sess=y; koa.sess.sig2=z"}},
		{"several lines", []string{"a=1", "koa.sess=abc"}, []string{"a=1"}},
		{"spaced as the reader allows", []string{"a=1;\tkoa.sess =abc"}, []string{"a=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": append([]string(nil), tc.in...)}
			m.StripCookies(h)
			if strings.Join(h["Cookie"], "|") != strings.Join(tc.want, "|") {
				t.Errorf("Cookie %q, want %q", h["Cookie"], tc.want)
			}
		})
	}
}

// TestStripCookiesStripsWhatLoadReads holds StripCookies to the reader:
// a session cookie that Load would read never reaches the upstream.
func TestStripCookiesStripsWhatLoadReads(t *testing.T) {
	m := newManager(t, Options{})
	for _, line := range []string{"koa.sess=v", " koa.sess = v ", "a=1;koa.sess=v", `koa.sess="v"`} {
		h := http.Header{"Cookie": {line}}
		if _, ok := requestCookie(h, "koa.sess"); !ok {
			t.Fatalf("%q: the reader finds no cookie", line)
		}
		m.StripCookies(h)
		if _, ok := requestCookie(h, "koa.sess"); ok {
			t.Errorf("%q: left %q", line, h["Cookie"])
		}
	}
}

func TestSetsCookie(t *testing.T) {
	m := newManager(t, Options{})
	for _, tc := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{"none", nil, false},
		{"the session cookie", []string{"koa.sess=abc; path=/"}, true},
		{"after a space", []string{"theme=dark", " koa.sess=; expires=Thu, 01 Jan 1970 00:00:00 GMT"}, true},
		{"only the signature", []string{"koa.sess.sig=abc"}, false},
		{"a longer name", []string{"koa.sess2=abc"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.SetsCookie(http.Header{"Set-Cookie": tc.lines}); got != tc.want {
				t.Errorf("SetsCookie(%q) = %v, want %v", tc.lines, got, tc.want)
			}
		})
	}
}
