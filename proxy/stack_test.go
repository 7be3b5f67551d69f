//go:build !race

// The race detector's instrumentation makes every frame larger, so these
// run without it: test/run.sh runs them in a build of their own.

package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

// A goroutine starts with an 8 KiB stack. One that needs more gets a copy
// twice the size; the collector halves it again while the connection
// waits for its next request, and the next request copies it again:
// 0.5–0.9 % of the proxy's CPU in the load benchmark's write scenario
// when its writes needed more (perf: newstack, copystack, shrinkstack).
// The bare ReverseProxy's requests fit.
//
// TestRequestsFitTheFirstStack runs each kind of request through a real
// http.Server with debug.SetMaxStack(8 KiB), so that outgrowing it is a
// fatal error (hence a child process per case), and with stackSpare bytes
// of the stack taken before the proxy's handler: what cmd/sessionproxy's
// handler and a middleware may add.
func TestRequestsFitTheFirstStack(t *testing.T) {
	if c := os.Getenv("SESSIONPROXY_STACK_CASE"); c != "" {
		fitsFirstStack(t, c)
		return
	}
	for _, c := range []string{"secure/new", "secure/cold", "secure/write", "koa/cold", "koa/write", "memory/cold", "memory/write", "koa/warm", "memory/warm"} {
		t.Run(c, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRequestsFitTheFirstStack$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "SESSIONPROXY_STACK_CASE="+c)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "fits in the first stack") {
				first, _, _ := strings.Cut(string(out), "\n\n")
				t.Errorf("%s: %v\n%s", c, err, first)
			}
		})
	}
}

// stackSpare is how much of the first stack a request leaves unused.
const stackSpare = 512

// fitsFirstStack serves one request of kind c ("format/path", the format
// "memory" for the secure cookie with a memory store) and reports that it
// fitted; the process dies if it does not. The paths: "new", no cookie;
// "cold", a cookie p has not seen; "write", a change on top of that;
// "warm", a change to a session whose cookie p issued, which it
// remembers, as most of a user's requests after the first.
func fitsFirstStack(t *testing.T, c string) {
	format, path, _ := strings.Cut(c, "/")
	u, rt, _ := benchUpstream()
	store := session.NewMemoryStore(session.MemoryOptions{})
	newProxy := func() (*proxy.Proxy, string) {
		o := session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}}
		if format == "memory" {
			o.Store = store
		} else {
			o.Format = session.Format(format)
		}
		sm, err := session.New(o)
		if err != nil {
			t.Fatal(err)
		}
		p, err := proxy.New(proxy.Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testKey), Transport: rt, AccessLog: proxy.JSONAccessLog(io.Discard)})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Bench-Set", benchData)
		p.ServeHTTP(w, r)
		var cookies []string
		for _, ck := range (&http.Response{Header: w.Header()}).Cookies() {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
		return p, strings.Join(cookies, "; ")
	}
	p, own := newProxy()    // own: issued by p, which remembers it (warm)
	_, cookie := newProxy() // issued by another proxy: p reads it cold
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spend(stackSpare, func() { p.ServeHTTP(w, r) })
	}))
	defer srv.Close()
	get := func(path, cookie string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	get("/", "") // the connection, before the limit
	defer debug.SetMaxStack(debug.SetMaxStack(8 << 10))
	switch path {
	case "new":
		get("/", "")
	case "cold":
		get("/", cookie)
	case "write":
		get("/write", cookie)
	case "warm":
		get("/write", own)
	}
	t.Log("fits in the first stack")
}

// spend calls f with at least n bytes of the stack taken.
//
//go:noinline
func spend(n int, f func()) {
	var b [stackSpare]byte
	if n > len(b) {
		panic("spend: more than one frame")
	}
	b[n-1] = 1
	f()
	stackSink = b[0]
}

var stackSink byte
