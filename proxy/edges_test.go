package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sessionproxy/sessionproxy/session"
)

// newEdgeProxy puts a Proxy in front of upstream, with o and so changed
// by the callers' functions (either may be nil).
func newEdgeProxy(t testing.TB, upstream http.Handler, opts func(*Options), sopts func(*session.Options)) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	so := session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}}
	if sopts != nil {
		sopts(&so)
	}
	sm, err := session.New(so)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret)}
	if opts != nil {
		opts(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

// headersSeen is an upstream that remembers the headers of the last
// request it got.
type headersSeen struct {
	mu sync.Mutex
	h  http.Header
}

func (s *headersSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.h = r.Header.Clone()
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func (s *headersSeen) get() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}

// do sends req and reads the answer, failing after 15 s.
func do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var spoofedForwarding = map[string]string{
	"X-Forwarded-For":   "203.0.113.9",
	"X-Forwarded-Proto": "https",
	"X-Forwarded-Host":  "bank.example",
	"X-Real-Ip":         "203.0.113.9",
	"True-Client-Ip":    "203.0.113.9",
	"X-Client-Ip":       "203.0.113.9",
	// What Rack, IIS or Symfony believe beside them: the scheme, the
	// port, the path.
	"X-Forwarded-Ssl":    "on",
	"X-Forwarded-Scheme": "https",
	"X-Forwarded-Port":   "443",
	"X-Forwarded-Prefix": "/admin",
	"Front-End-Https":    "on",
	"X-Url-Scheme":       "https",
	"X-Original-Url":     "/admin/users",
	"X-Rewrite-Url":      "/admin/users",
	// The same with underscores, which WSGI, Rack and PHP read as dashes.
	"X-Forwarded_Proto": "https",
	"X-Forwarded_Ssl":   "on",
	"X-Original_Url":    "/admin/users",
	"X_Real_Ip":         "203.0.113.9",
}

func TestForwardingHeadersFromAnUntrustedPeerAreReplaced(t *testing.T) {
	for _, name := range []string{"no trusted proxies", "peer not in them"} {
		t.Run(name, func(t *testing.T) {
			up := &headersSeen{}
			srv := newEdgeProxy(t, up, func(o *Options) {
				if name == "peer not in them" {
					o.TrustedProxies = mustTrusted(t, "10.0.0.0/8", "192.0.2.1")
				}
			}, nil)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			for k, v := range spoofedForwarding {
				req.Header.Set(k, v)
			}
			do(t, req)
			h := up.get()
			host := strings.TrimPrefix(srv.URL, "http://")
			want := map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": host,
				"X-Real-Ip": "127.0.0.1", "True-Client-Ip": "", "X-Client-Ip": "",
			}
			for k := range spoofedForwarding {
				if _, ok := want[k]; !ok {
					want[k] = ""
				}
			}
			for k, v := range want {
				if got := strings.Join(h.Values(k), "|"); got != v {
					t.Errorf("upstream saw %s %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestForwardingHeadersFromATrustedProxyAreKept(t *testing.T) {
	up := &headersSeen{}
	srv := newEdgeProxy(t, up, func(o *Options) { o.TrustedProxies = mustTrusted(t, "127.0.0.0/8") }, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	for k, v := range spoofedForwarding {
		req.Header.Set(k, v)
	}
	do(t, req)
	h := up.get()
	want := map[string]string{
		"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "bank.example",
		"X-Real-Ip": "203.0.113.9", "True-Client-Ip": "203.0.113.9", "X-Client-Ip": "203.0.113.9",
	}
	for k, v := range spoofedForwarding {
		if _, ok := want[k]; !ok {
			want[k] = v // the others pass as the trusted proxy sent them
		}
	}
	for k, v := range want {
		if got := strings.Join(h.Values(k), "|"); got != v {
			t.Errorf("upstream saw %s %q, want %q", k, got, v)
		}
	}
	// Without forwarding headers, the trusted proxy is the client.
	do(t, mustRequest(t, http.MethodGet, srv.URL, nil))
	h = up.get()
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Real-Ip") != "127.0.0.1" {
		t.Errorf("upstream saw %v, want the peer's own address and scheme", h)
	}
}

func mustTrusted(t testing.TB, cidrs ...string) TrustedProxies {
	t.Helper()
	tp, err := ParseTrustedProxies(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// rawConn dials srv for a test that writes HTTP by hand; the connection
// gives up after limit and is closed when the test ends.
func rawConn(t testing.TB, srv *httptest.Server, limit time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(limit))
	return conn
}

func mustRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestParseTrustedProxies(t *testing.T) {
	tp, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3:5000": true, "192.0.2.1:1": true, "192.0.2.2:1": false, "[2001:db8::1]:443": true,
		"[::ffff:10.0.0.1]:80": true, "127.0.0.1:80": false, "garbage": false, "": false,
	} {
		if got := tp.Contains(addr); got != want {
			t.Errorf("Contains(%q) = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("bad CIDR: error %v, want one naming it", err)
	}
}

// session.secure: auto behind a TLS-terminating load balancer: Secure when
// a trusted proxy says the client came over https, not when anyone else
// says so.
func TestSecureAutoBehindATrustedProxy(t *testing.T) {
	setter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Set", `{"a":1}`)
	})
	tests := []struct {
		name    string
		trusted []string
		proto   string
		secure  bool
	}{
		{"trusted https", []string{"127.0.0.1/32"}, "https", true},
		{"trusted, first hop https", []string{"127.0.0.1/32"}, "HTTPS, http", true},
		{"trusted http", []string{"127.0.0.1/32"}, "http", false},
		{"untrusted https", nil, "https", false},
		{"other proxy trusted", []string{"10.0.0.0/8"}, "https", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := mustTrusted(t, tc.trusted...)
			srv := newEdgeProxy(t, setter, func(o *Options) { o.TrustedProxies = tp },
				func(so *session.Options) { so.SecureAuto, so.SecureRequest = true, tp.IsHTTPS })
			req := mustRequest(t, http.MethodGet, srv.URL, nil)
			req.Header.Set("X-Forwarded-Proto", tc.proto)
			resp, _ := do(t, req)
			cs := resp.Cookies()
			if len(cs) != 1 {
				t.Fatalf("cookies %v, want the session cookie", resp.Header["Set-Cookie"])
			}
			if cs[0].Secure != tc.secure {
				t.Errorf("Secure %v, want %v (%s)", cs[0].Secure, tc.secure, resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

// An h2c upgrade would give the client an HTTP/2 connection to the
// upstream that the proxy no longer reads: the proxy does not pass it on.
func TestH2CUpgradeNeverReachesTheUpstream(t *testing.T) {
	up := &headersSeen{}
	srv := newEdgeProxy(t, up, nil, nil)
	for _, tc := range []struct{ name, upgrade, connection, wantUpgrade string }{
		{"h2c alone", "h2c", "Upgrade, HTTP2-Settings", ""},
		{"h2c upper case", "H2C", "upgrade, http2-settings", ""},
		{"h2c among others", "h2c, websocket", "Upgrade, HTTP2-Settings", "websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, srv, 5*time.Second)
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: %s\r\nConnection: %s\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", tc.upgrade, tc.connection)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := up.get()
			if tc.wantUpgrade == "" && resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want the request served as HTTP/1.1", resp.StatusCode)
			}
			if got := h.Get("Upgrade"); got != tc.wantUpgrade {
				t.Errorf("upstream saw Upgrade %q, want %q", got, tc.wantUpgrade)
			}
			if got := h.Get("Http2-Settings"); got != "" {
				t.Errorf("upstream saw HTTP2-Settings %q", got)
			}
		})
	}
}

// CONNECT would make the connection to the upstream a tunnel the proxy no
// longer reads, and an upstream that answers TRACE echoes the request, the
// session token in it, to the client: the proxy answers both itself.
func TestConnectAndTraceAreNotPassedOn(t *testing.T) {
	var calls sync.Map // method → true, for every request the upstream got
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Store(r.Method, true)
		if strings.EqualFold(r.Method, http.MethodTrace) || r.Method == "TRACK" { // as Apache's TraceEnable answers, or IIS's TRACK
			w.Header().Set("Content-Type", "message/http")
			r.Header.Write(w)
			return
		}
		io.WriteString(w, "tunnel open")
	}), nil, nil)
	for _, tc := range []struct {
		method, target string
		wantClose      bool
	}{
		{http.MethodTrace, "/", false},
		{"trace", "/", false},
		{"TRACK", "/", false},
		{http.MethodConnect, "example.com:443", true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			conn := rawConn(t, srv, 5*time.Second)
			// What a client sends next: a GET on a kept-alive connection,
			// or (after CONNECT) bytes meant for the tunnel.
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: example.com\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n", tc.method, tc.target)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), tc.method) {
				t.Errorf("status %d, body %q: want 405 naming %s", resp.StatusCode, body, tc.method)
			}
			if strings.Contains(strings.ToLower(string(body)), "x-session") || len(resp.Cookies()) != 0 {
				t.Errorf("the answer carries the session: body %q, cookies %v", body, resp.Cookies())
			}
			if _, ok := calls.Load(tc.method); ok {
				t.Errorf("the upstream got the %s request", tc.method)
			}
			next, err := http.ReadResponse(br, nil)
			switch {
			case tc.wantClose && err == nil:
				t.Errorf("after CONNECT the connection stayed open and served %d", next.StatusCode)
			case !tc.wantClose && err != nil:
				t.Errorf("after %s the next request on the connection failed: %v", tc.method, err)
			case !tc.wantClose && next.StatusCode != http.StatusOK:
				t.Errorf("after %s the next request got %d", tc.method, next.StatusCode)
			}
		})
	}
}

// In HTTP/2 a refused CONNECT ends its stream only: the connection's
// other requests go on.
func TestConnectOverHTTP2KeepsTheConnection(t *testing.T) {
	var calls sync.Map
	plain := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Store(r.Method, true)
	}), nil, nil)
	srv := httptest.NewUnstartedServer(plain.Config.Handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()

	req := mustRequest(t, http.MethodConnect, srv.URL, nil)
	req.Host = "example.com:443"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("%s %d %q: want HTTP/2 405", resp.Proto, resp.StatusCode, body)
	}
	if _, ok := calls.Load(http.MethodConnect); ok {
		t.Error("the upstream got the CONNECT request")
	}
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	get := mustRequest(t, http.MethodGet, srv.URL, nil)
	if resp, err = client.Do(get.WithContext(httptrace.WithClientTrace(get.Context(), trace))); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !reused {
		t.Errorf("GET after CONNECT: status %d, connection reused %v; want 200 on the same connection", resp.StatusCode, reused)
	}
}

// Trailers are headers too: the proxy's own names never reach the client
// in them, and a directive sent as one is not applied.
func TestSessionTrailersNeverReachTheClient(t *testing.T) {
	for _, tc := range []struct{ name, declare string }{
		{"declared", "X-Session-Set, X-Session, X-Session-Destroy, Grpc-Status"},
		{"undeclared", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				prefix := http.TrailerPrefix
				if tc.declare != "" {
					w.Header().Set("Trailer", tc.declare)
					prefix = ""
				}
				io.WriteString(w, "body")
				w.(http.Flusher).Flush()
				w.Header().Set(prefix+"X-Session-Set", `{"admin":true}`)
				w.Header().Set(prefix+"X-Session", r.Header.Get("X-Session"))
				w.Header().Set(prefix+"X-Session-Destroy", "true")
				w.Header().Set(prefix+"Grpc-Status", "0")
			}), func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}, nil)
			resp, body := do(t, mustRequest(t, http.MethodGet, srv.URL, nil))
			if body != "body" || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
			if resp.Trailer.Get("Grpc-Status") != "0" {
				t.Errorf("trailers %v: the upstream's own trailer is lost", resp.Trailer)
			}
			for name := range resp.Trailer {
				if strings.HasPrefix(strings.ToLower(name), "x-session") {
					t.Errorf("trailer %s reached the client", name)
				}
			}
			if strings.Contains(strings.ToLower(resp.Header.Get("Trailer")), "x-session") {
				t.Errorf("Trailer header %q announces the proxy's names", resp.Header.Get("Trailer"))
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("cookies %v: a trailer directive was applied", resp.Header["Set-Cookie"])
			}
			if !strings.Contains(logs.String(), "trailer") || !strings.Contains(logs.String(), "X-Session-Set") {
				t.Errorf("the refused trailer directive was not logged:\n%s", logs.String())
			}
		})
	}
}

func TestDirectivesPastTheLimitsAre502(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		status int
	}{
		{"at the count limit", repeat(`{"a":1}`, MaxDirectives), http.StatusOK},
		{"past the count limit", repeat(`{"a":1}`, MaxDirectives+1), http.StatusBadGateway},
		{"past the size limit", []string{`{"a":"` + strings.Repeat("x", MaxDirectiveBytes) + `"}`}, http.StatusBadGateway},
		{"nested too deep", []string{strings.Repeat(`{"a":`, session.MaxDepth) + "{}" + strings.Repeat("}", session.MaxDepth)}, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["X-Session-Set"] = tc.values
			}), func(o *Options) {
				o.Sessions, _ = session.New(session.Options{
					Keys: []string{"key-0123456789abcdef0123456789abcdef"}, Store: session.NewMemoryStore(session.MemoryOptions{}),
				})
			}, nil)
			resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL, nil))
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestAccessLogTruncatesLongPaths(t *testing.T) {
	var log collectedLog
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(o *Options) {
		o.AccessLog = &log
	}, nil)
	long := "/" + strings.Repeat("a", 100_000)
	do(t, mustRequest(t, http.MethodGet, srv.URL+long+"?token=secret", nil))
	do(t, mustRequest(t, http.MethodGet, srv.URL+"/short?token=secret", nil))
	es := log.all()
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2", len(es))
	}
	if got := es[0].Path; len(got) > MaxLoggedPath+len("…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || !strings.HasSuffix(got, "…") {
		t.Errorf("logged path of %d bytes (%.40q…), want at most %d bytes of it, marked as cut", len(got), got, MaxLoggedPath)
	}
	if es[1].Path != "/short" {
		t.Errorf("logged path %q, want /short without the query", es[1].Path)
	}
}

func TestTruncatePathKeepsUTF8(t *testing.T) {
	p := "/" + strings.Repeat("é", MaxLoggedPath)
	got := truncatePath(p)
	if !utf8.ValidString(got) || len(got) > MaxLoggedPath+len("…") {
		t.Errorf("truncatePath gave %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if truncatePath("/a") != "/a" {
		t.Error("a short path was changed")
	}
}

// collected keeps what it is given, from any goroutine.
type collected[T any] struct {
	mu    sync.Mutex
	items []T
}

func (c *collected[T]) add(v T) {
	c.mu.Lock()
	c.items = append(c.items, v)
	c.mu.Unlock()
}

func (c *collected[T]) all() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.items...)
}

// collectedLog is an AccessLogger that keeps its entries.
type collectedLog struct{ collected[AccessEntry] }

func (l *collectedLog) LogAccess(_ context.Context, e AccessEntry) { l.add(e) }

// bodyReport is an upstream that reads the whole request body and reports
// what it got, or the error that cut it.
type bodyReport struct {
	got chan string
}

func (b *bodyReport) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		b.got <- "error: " + err.Error()
		return
	}
	b.got <- string(data)
	io.WriteString(w, "got "+string(data))
}

func TestStalledBodyIs408AndAbortsTheUpstreamRequest(t *testing.T) {
	up := &bodyReport{got: make(chan string, 1)}
	srv := newEdgeProxy(t, up, func(o *Options) { o.BodyIdleTimeout = 300 * time.Millisecond }, nil)
	// A client that promises 1000 bytes, sends a few, then nothing.
	conn := rawConn(t, srv, 10*time.Second)
	start := time.Now()
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nfirst bytes, then nothing")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d body %q, want 408", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}
	select {
	case got := <-up.got:
		if !strings.HasPrefix(got, "error:") {
			t.Errorf("upstream read %q, want its request cut", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("the upstream request is still open")
	}
}

func TestSlowBodyThatKeepsSendingIsNeverCut(t *testing.T) {
	up := &bodyReport{got: make(chan string, 1)}
	srv := newEdgeProxy(t, up, func(o *Options) { o.BodyIdleTimeout = 300 * time.Millisecond }, nil)
	pr, pw := io.Pipe()
	go func() {
		for i := range 10 { // 1 s in all, 100 ms apart: longer than the timeout, never idle that long
			fmt.Fprintf(pw, "%d", i)
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	resp, body := do(t, mustRequest(t, http.MethodPost, srv.URL, pr))
	if resp.StatusCode != http.StatusOK || body != "got 0123456789" {
		t.Errorf("status %d body %q, want the whole body through", resp.StatusCode, body)
	}
}

func TestBodyIdleTimeoutDefault(t *testing.T) {
	p, err := New(Options{Upstream: &url.URL{Scheme: "http", Host: "x"}, Sessions: mustManager(t), TokenSecret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if p.opts.BodyIdleTimeout != DefaultBodyIdleTimeout || DefaultBodyIdleTimeout <= 0 || DefaultBodyIdleTimeout > time.Minute {
		t.Errorf("BodyIdleTimeout %v by default, want DefaultBodyIdleTimeout (%v), on and at most a minute", p.opts.BodyIdleTimeout, DefaultBodyIdleTimeout)
	}
}

func mustManager(t testing.TB) *session.Manager {
	t.Helper()
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func TestMaxConnsPerHostCapsUpstreamConnections(t *testing.T) {
	var mu sync.Mutex
	open, most := 0, 0
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			most = max(most, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p, err := New(Options{Upstream: u, Sessions: mustManager(t), TokenSecret: []byte(testSecret),
		Transport: NewTransport(TransportOptions{MaxConnsPerHost: 2})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, _ := do(t, mustRequest(t, http.MethodGet, srv.URL, nil))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Errorf("%d connections to the upstream at once, want at most 2", most)
	}
}
