package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sessionproxy/sessionproxy/session"
)

// upstream answers with the Cookie header it got in X-Got-Cookie and
// the response headers the request's query asks for (?h=Name:value).
func upstream(t *testing.T, name string) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Got-Cookie", r.Header.Get("Cookie"))
		w.Header().Set("X-Got-Path", r.URL.EscapedPath())
		for _, h := range r.URL.Query()["h"] {
			k, v, _ := cutHeader(h)
			w.Header().Add(k, v)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func cutHeader(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func newRouteProxy(t *testing.T, routes []Route, def *url.URL) *Proxy {
	t.Helper()
	m, err := session.New(session.Options{Format: session.FormatKoa, Keys: []string{"k"}, Rolling: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Upstream: def, Routes: routes, Sessions: m, TokenSecret: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoutes(t *testing.T) {
	def, legacy, deep := upstream(t, "default"), upstream(t, "legacy"), upstream(t, "deep")
	p := newRouteProxy(t, []Route{
		{Path: "/legacy/", Upstream: legacy, ForwardCookie: true},
		{Path: "/legacy/deep/", Upstream: deep},
		{Path: "/same/", ForwardCookie: true},
	}, def)
	const cookie = "a=1; koa.sess=v; koa.sess.sig=s"
	for _, tc := range []struct {
		path, upstream, cookie string
	}{
		{"/api/x", "default", "a=1"},
		{"/legacy/x", "legacy", cookie},
		{"/legacy/deep/x", "deep", "a=1"}, // the longest prefix wins
		{"/legacyx", "default", "a=1"},
		{"/same/x", "default", cookie}, // no upstream: the default one
		// Matched as nginx matches a location, with dot segments and
		// repeated slashes resolved; the upstream gets the path as sent.
		{"/legacy/../api/x", "default", "a=1"},
		{"/api/../legacy/x", "legacy", cookie},
		{"/legacy/./deep/x", "deep", "a=1"},
		{"/legacy//deep/x", "deep", "a=1"},
		{"/legacy/deep/..", "legacy", cookie},
		{"/legacy/deep/x/../../..", "default", "a=1"},
		{"/../../legacy/x", "legacy", cookie},
		{"/legacy/.hidden", "legacy", cookie},
		{"/legacy/%2e%2e/api/x", "default", "a=1"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			r.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if got := w.Header().Get("X-Upstream"); got != tc.upstream {
				t.Errorf("went to %q, want %q", got, tc.upstream)
			}
			if got := w.Header().Get("X-Got-Cookie"); got != tc.cookie {
				t.Errorf("upstream got Cookie %q, want %q", got, tc.cookie)
			}
			if got := w.Header().Get("X-Got-Path"); got != tc.path {
				t.Errorf("upstream got path %q, want it as sent", got)
			}
		})
	}
}

func TestUpstreamSessionCookieWins(t *testing.T) {
	p := newRouteProxy(t, nil, upstream(t, "koa"))
	for _, tc := range []struct {
		name, query string
		status      int
		want        []string
	}{
		{"upstream sets it: the proxy adds nothing despite rolling", "?h=Set-Cookie:koa.sess%3Dnew%3B%20path%3D/&h=Set-Cookie:koa.sess.sig%3Dx", 200,
			[]string{"koa.sess=new; path=/", "koa.sess.sig=x"}},
		{"and sends a directive too: 502", "?h=Set-Cookie:koa.sess%3Dnew&h=X-Session-Set:%7B%22a%22:1%7D", 502, nil},
		{"only .sig from upstream: the proxy's pair replaces it", "?h=Set-Cookie:koa.sess.sig%3Dold&h=X-Session-Set:%7B%22a%22:1%7D", 200,
			[]string{"koa.sess=", "koa.sess.sig="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+tc.query, nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			got := w.Header()["Set-Cookie"]
			if len(got) != len(tc.want) {
				t.Fatalf("Set-Cookie %q, want %q", got, tc.want)
			}
			for i, prefix := range tc.want {
				if len(got[i]) < len(prefix) || got[i][:len(prefix)] != prefix || (prefix[len(prefix)-1] == '=' && got[i] == prefix) {
					t.Errorf("Set-Cookie[%d] = %q, want it to start with %q", i, got[i], prefix)
				}
			}
		})
	}
}
