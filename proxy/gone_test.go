package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/testenv"
	"github.com/sessionproxy/sessionproxy/session"
)

// The upstream's answer is the app's decision: a logout or a change
// answered after the client has gone (a closed tab) is still committed,
// as koa-session commits it in the app's own process.
func TestDirectivesAreCommittedAfterTheClientLeaves(t *testing.T) {
	destroyed := func(t *testing.T, c *Claims) {
		if !c.New {
			t.Errorf("the session the upstream destroyed still opens: %s", c.Sess)
		}
	}
	for _, tc := range []struct {
		name, method, body, header, value string
		check                             func(t *testing.T, claims *Claims)
	}{
		{"destroy", "GET", "", "X-Session-Destroy", "true", destroyed},
		{"destroy, posted", "POST", "csrf=x", "X-Session-Destroy", "true", destroyed}, // a logout form
		{"set", "GET", "", "X-Session-Set", `{"theme":"dark"}`, func(t *testing.T, c *Claims) {
			if !strings.Contains(string(c.Sess), `"theme":"dark"`) {
				t.Errorf("the change answered after the client left was lost: %s", c.Sess)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived, answered := make(chan struct{}), make(chan struct{})
			claims := make(chan *Claims, 1)
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/login":
					w.Header().Set("X-Session-Set", `{"user":"u1"}`)
				case "/slow":
					io.Copy(io.Discard, r.Body)
					close(arrived)
					time.Sleep(300 * time.Millisecond) // the client gives up meanwhile
					w.Header().Set(tc.header, tc.value)
					close(answered)
				case "/read":
					claims <- claimsOf(t, r)
				}
			}), nil, func(o *session.Options) {
				o.Store = session.NewMemoryStore(session.MemoryOptions{})
			})
			resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/login", nil))
			cookie := resp.Header.Get("Set-Cookie")
			cookie = cookie[:strings.IndexByte(cookie, ';')]

			ctx, cancel := context.WithCancel(t.Context())
			req := mustRequest(t, tc.method, srv.URL+"/slow", strings.NewReader(tc.body)).WithContext(ctx)
			req.Header.Set("Cookie", cookie)
			go func() { <-arrived; cancel() }()
			if _, err := http.DefaultClient.Do(req); err == nil {
				t.Fatal("the request was not canceled")
			}
			<-answered
			time.Sleep(100 * time.Millisecond) // the proxy commits after the upstream's answer

			req = mustRequest(t, "GET", srv.URL+"/read", nil)
			req.Header.Set("Cookie", cookie)
			do(t, req)
			tc.check(t, <-claims)
		})
	}
}

// Once the answer is committed, the client leaving ends the request to
// the upstream, as before: a stream nobody reads is not kept open. A
// request whose client left before the answer is logged as 499.
func TestTheClientLeavingEndsAStreamAndLogs499(t *testing.T) {
	var log collectedLog
	streaming, ended := make(chan struct{}), make(chan error, 1)
	arrived := make(chan struct{})
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			close(streaming)
			select {
			case <-r.Context().Done():
				ended <- nil
			case <-time.After(10 * time.Second):
				ended <- errors.New("the upstream request outlived its client by 10 s")
			}
		case "/slow":
			close(arrived)
			time.Sleep(200 * time.Millisecond)
		}
	}), func(o *Options) { o.AccessLog = &log }, nil)

	ctx, cancel := context.WithCancel(t.Context())
	resp, err := http.DefaultClient.Do(mustRequest(t, "GET", srv.URL+"/stream", nil).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	<-streaming
	cancel()
	resp.Body.Close()
	if err := <-ended; err != nil {
		t.Error(err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if _, err := http.DefaultClient.Do(mustRequest(t, "GET", srv.URL+"/slow", nil).WithContext(ctx)); err == nil {
		t.Fatal("the request was not canceled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(log.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	es := log.all()
	if len(es) != 2 || es[1].Path != "/slow" || es[1].Status != statusClientClosed {
		t.Errorf("access log %+v, want /slow's line last with status 499", es)
	}
}

// An upload the client abandons ends the request to the upstream at
// once, even over HTTP/2 and to an upstream that stopped reading it: the
// wait for the answer, which the client leaving does not end, starts
// only once the body is sent.
func TestAnAbandonedUploadEndsTheUpstreamRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	reading := make(chan struct{})
	go func() { // an upstream that reads a little of the request, then nothing
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, 64<<10))
		close(reading)
		<-t.Context().Done()
	}()
	var log collectedLog
	so := session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}}
	sm, err := session.New(so)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://" + ln.Addr().String())
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), AccessLog: &log,
		Transport: NewTransport(TransportOptions{ResponseHeaderTimeout: time.Second})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	body := io.LimitReader(zeros{}, 256<<20)
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/upload", body)
	go func() {
		<-reading
		time.Sleep(time.Second) // until the socket's buffers are full and the transport waits to write
		cancel()
	}()
	if _, err := srv.Client().Do(req); err == nil {
		t.Fatal("the upload was not canceled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(log.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(log.all()) == 0 {
		t.Error("5 s after the client left its upload, the request to the upstream is still open")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// failingStore is a store whose writes fail once down is set.
type failingStore struct {
	session.Store
	down atomic.Bool
}

func (s *failingStore) Delete(ctx context.Context, id string) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return s.Store.Delete(ctx, id)
}

func (s *failingStore) Update(ctx context.Context, id string, last []byte, fn session.UpdateFunc) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return s.Store.Update(ctx, id, last, fn)
}

// errorKinds is an Observer that keeps the error kinds it is told.
type errorKinds struct {
	nopObserver
	collected[ErrorKind]
}

func (o *errorKinds) UpstreamError(k ErrorKind) { o.add(k) }

// A logout answered after the client left, which the store then fails to
// apply, is a store outage, counted and logged as one: not a client that
// went away, which nobody would look into.
func TestACommitThatFailsAfterTheClientLeftIsAStoreError(t *testing.T) {
	store := &failingStore{Store: session.NewMemoryStore(session.MemoryOptions{})}
	arrived, answered := make(chan struct{}), make(chan struct{})
	kinds := &errorKinds{}
	var logs testenv.Buffer
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			w.Header().Set("X-Session-Set", `{"user":"u1"}`)
		case "/logout":
			close(arrived)
			time.Sleep(300 * time.Millisecond)
			w.Header().Set("X-Session-Destroy", "true")
			close(answered)
		}
	}), func(o *Options) {
		o.Observer = kinds
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, func(o *session.Options) { o.Store = store })
	resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/login", nil))
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]

	ctx, cancel := context.WithCancel(t.Context())
	req := mustRequest(t, "GET", srv.URL+"/logout", nil).WithContext(ctx)
	req.Header.Set("Cookie", cookie)
	go func() { <-arrived; store.down.Store(true); cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request was not canceled")
	}
	<-answered
	deadline := time.Now().Add(5 * time.Second)
	for len(kinds.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := kinds.all(); len(got) != 1 || got[0] != ErrorStoreUnavailable {
		t.Errorf("error kinds %v, want [store_unavailable]", got)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the logout the store could not apply is not logged as an error: %q", logs.String())
	}
}

// stuckConn is the proxy's connection to an upstream that stopped
// reading: the request's headers go through, then every Write blocks
// (the receive window is full) until the connection is closed.
type stuckConn struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
	writes int
}

func (c *stuckConn) Write(p []byte) (int, error) {
	if c.writes++; c.writes == 1 {
		return c.Conn.Write(p)
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *stuckConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// The proxy has read the client's whole body but cannot write it
// upstream, whose connection takes no more; the client gives up. The
// request to the upstream ends with it: it was never all written, and the
// wait for its answer, which the client leaving does not end, has not
// begun.
func TestAnUploadTheUpstreamCannotTakeEndsWithItsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-t.Context().Done(); c.Close() }()
		}
	}()
	var log collectedLog
	sm, _ := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	u, _ := url.Parse("http://" + ln.Addr().String())
	tr := NewTransport(TransportOptions{ResponseHeaderTimeout: time.Second})
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) {
		c, err := dial(ctx, n, a)
		if err != nil {
			return nil, err
		}
		return &stuckConn{Conn: c, closed: make(chan struct{})}, nil
	}
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), AccessLog: &log, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	conn := rawConn(t, srv, 10*time.Second)
	body := strings.Repeat("x", 1000)
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	time.Sleep(500 * time.Millisecond)
	conn.Close() // the client gives up
	deadline := time.Now().Add(5 * time.Second)
	for len(log.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(log.all()) == 0 {
		t.Error("5 s after the client left, the request to the upstream is still open (its 1 s ResponseHeaderTimeout never started)")
	}
}

// slowStore is a store whose deletes take 300 ms and honour ctx, as a
// Redis does (redisstore checks ctx before queuing a command).
type slowStore struct{ session.Store }

func (s slowStore) Delete(ctx context.Context, id string) error {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Delete(ctx, id)
}

// A logout an upstream answers before it has read the whole upload (full
// duplex, over HTTP/2 from the client): the client leaves while the
// store applies it, and the commit under way is not cut.
func TestACommitUnderWayIsNotCutByTheClientLeaving(t *testing.T) {
	answered := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			w.Header().Set("X-Session-Set", `{"user":"u1"}`)
		case "/logout":
			http.NewResponseController(w).EnableFullDuplex()
			w.Header().Set("X-Session-Destroy", "true")
			w.(http.Flusher).Flush()
			close(answered)
		}
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	sm, _ := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}, Store: slowStore{session.NewMemoryStore(session.MemoryOptions{})}})
	var log collectedLog
	p, _ := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), AccessLog: &log})
	srv := httptest.NewUnstartedServer(p)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]

	pr, pw := io.Pipe()
	go pw.Write([]byte("part of a form")) // a slow client: the rest is still to come
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/logout", pr)
	req.Header.Set("Cookie", cookie)
	go func() { <-answered; time.Sleep(100 * time.Millisecond); cancel() }()
	if _, err := c.Do(req); err == nil {
		t.Fatal("the request was not canceled")
	}
	time.Sleep(500 * time.Millisecond)
	req2, _ := http.NewRequest("GET", srv.URL+"/check", nil)
	req2.Header.Set("Cookie", cookie)
	var isNew bool
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { isNew = claimsOf(t, r).New })
	resp, err = c.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !isNew {
		t.Error("the logout the upstream answered was not applied: the session still opens")
	}
}

// lateWriteConn passes every write through at once, but returns from the
// one that ends with last only when released: the upstream has the whole
// request while the transport has not yet said so (its WroteRequest trace
// comes after the write returns).
type lateWriteConn struct {
	net.Conn
	last    string
	release <-chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (c *lateWriteConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if strings.HasSuffix(string(p), c.last) {
		select {
		case <-c.release:
		case <-c.closed:
		}
	}
	return n, err
}

func (c *lateWriteConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A logout form the upstream has whole, whose client leaves before the
// transport has said it wrote it, is still committed: the client leaving
// gives a body the transport read whole a moment to be written. So it is
// with the body timeouts off too, when no timer watches the body.
func TestALogoutTheUpstreamHasBeforeTheTraceSaysSoIsCommitted(t *testing.T) {
	for _, tc := range []struct {
		name          string
		idle, sendOut time.Duration
	}{
		{"body timeouts on", 0, 0},
		{"body timeouts off", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) { testLateTraceLogout(t, tc.idle, tc.sendOut) })
	}
}

func testLateTraceLogout(t *testing.T, idle, sendOut time.Duration) {
	arrived, release := make(chan struct{}), make(chan struct{})
	claims := make(chan *Claims, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			w.Header().Set("X-Session-Set", `{"user":"u1"}`)
		case "/logout":
			io.Copy(io.Discard, r.Body)
			close(arrived)
			time.Sleep(300 * time.Millisecond) // the client leaves, then the transport's write returns
			w.Header().Set("X-Session-Destroy", "true")
		case "/read":
			claims <- claimsOf(t, r)
		}
	}))
	t.Cleanup(up.Close)
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}, Store: session.NewMemoryStore(session.MemoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(up.URL)
	tr := NewTransport(TransportOptions{})
	t.Cleanup(tr.CloseIdleConnections)
	dial := tr.DialContext
	var late atomic.Bool // only the logout's connection writes late
	tr.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) {
		c, err := dial(ctx, n, a)
		if err != nil || !late.Load() {
			return c, err
		}
		return &lateWriteConn{Conn: c, last: "csrf=x", release: release, closed: make(chan struct{})}, nil
	}
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), Transport: tr,
		BodyIdleTimeout: idle, SendTimeout: sendOut})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/login", nil))
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]
	tr.CloseIdleConnections()
	late.Store(true)

	ctx, cancel := context.WithCancel(t.Context())
	req := mustRequest(t, "POST", srv.URL+"/logout", strings.NewReader("csrf=x")).WithContext(ctx)
	req.Header.Set("Cookie", cookie)
	go func() {
		<-arrived
		cancel()                           // the tab is closed
		time.Sleep(100 * time.Millisecond) // the proxy sees it go
		close(release)
	}()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request was not canceled")
	}
	time.Sleep(500 * time.Millisecond) // the upstream answers, the proxy commits

	late.Store(false)
	tr.CloseIdleConnections()
	req = mustRequest(t, "GET", srv.URL+"/read", nil)
	req.Header.Set("Cookie", cookie)
	do(t, req)
	if c := <-claims; !c.New {
		t.Errorf("the session the upstream destroyed still opens: %s", c.Sess)
	}
}

// The write grace a leaving client's request gets ends with the request:
// its timer does not hold the request's state once the handler is done.
func TestTheWriteGraceEndsWithTheRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := &state{Context: ctx, in: httptest.NewRequest("POST", "/", strings.NewReader("x"))}
	s.cancel = cancel
	s.sent.Store(true) // the transport has read the body whole
	s.clientLeft()
	tm := s.grace.Load()
	if tm == nil {
		t.Fatal("a client leaving a body read whole started no write grace")
	}
	s.release()
	if tm.Stop() {
		t.Error("the write grace's timer was still running after release")
	}
}
