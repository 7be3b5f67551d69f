package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestNewProxy holds the yardsticks to what the driver says they are:
// bare forwards the client's Cookie header, and bare -token sends the
// upstream a token of the size asked for in its place, as sessionproxy
// does.
func TestNewProxy(t *testing.T) {
	for _, tc := range []struct {
		name         string
		token        int
		cookie       string
		wantTokenLen int
	}{
		{"bare forwards the cookie", 0, "koa.sess=abc", 0},
		{"-token replaces the cookie", 590, "", 590},
		{"-token 1", 1, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got http.Header
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				w.Write([]byte("ok\n"))
			}))
			defer up.Close()
			u, err := url.Parse(up.URL)
			if err != nil {
				t.Fatal(err)
			}
			p := httptest.NewServer(newProxy(u, 1, tc.token))
			defer p.Close()
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/", nil)
			req.Header.Set("Cookie", "koa.sess=abc")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if c := got.Get("Cookie"); c != tc.cookie {
				t.Errorf("upstream's Cookie = %q, want %q", c, tc.cookie)
			}
			if n := len(got.Get("X-Session")); n != tc.wantTokenLen {
				t.Errorf("upstream's X-Session is %d bytes, want %d", n, tc.wantTokenLen)
			}
		})
	}
}
