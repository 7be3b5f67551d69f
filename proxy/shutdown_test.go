package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// At the shutdown deadline, UpstreamConns.Cut ends every request still
// waiting on its upstream: the client gets 503 (when nothing was sent
// yet), and each request has its access-log line and its error kind,
// instead of running on, unlogged, until the process exits.
func TestCutEndsAndLogsRequestsInFlight(t *testing.T) {
	var log collectedLog
	var kinds errorKinds
	conns := &UpstreamConns{}
	waiting := make(chan string, 8)
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/quick" {
			return
		}
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/stream" {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "first event\n")
			w.(http.Flusher).Flush()
		}
		waiting <- r.URL.Path
		<-r.Context().Done() // until the proxy's connection is cut
	}), func(o *Options) {
		o.AccessLog, o.Observer = &log, &kinds
		o.Transport = NewTransport(TransportOptions{Conns: conns})
	}, nil)

	// A keep-alive connection to the upstream, which /slow then reuses:
	// the transport retries a GET that fails on a reused connection.
	if resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/quick", nil)); resp.StatusCode != 200 {
		t.Fatalf("/quick: %d", resp.StatusCode)
	}
	type result struct {
		path, body string
		status     int
		err        error
	}
	results := make(chan result, 3)
	streaming := make(chan struct{})
	for _, r := range []struct{ method, path, body string }{{"GET", "/slow", ""}, {"POST", "/upload", "a form"}, {"GET", "/stream", ""}} {
		go func() {
			resp, err := http.DefaultClient.Do(mustRequest(t, r.method, srv.URL+r.path, strings.NewReader(r.body)))
			if err != nil {
				results <- result{path: r.path, err: err}
				return
			}
			defer resp.Body.Close()
			var first [12]byte
			if r.path == "/stream" {
				_, err := io.ReadFull(resp.Body, first[:])
				close(streaming) // the answer has begun
				if err != nil {
					results <- result{r.path, "", resp.StatusCode, err}
					return
				}
			}
			b, err := io.ReadAll(resp.Body)
			results <- result{r.path, string(b), resp.StatusCode, err}
		}()
	}
	for range 3 {
		select {
		case <-waiting:
		case <-time.After(10 * time.Second):
			t.Fatal("the requests never reached the upstream")
		}
	}
	<-streaming
	conns.Cut()
	for range 3 {
		r := <-results
		switch r.path {
		case "/stream": // answered already: cut short
			if r.status != 200 || r.err == nil {
				t.Errorf("%s: %d %q %v, want 200 cut short", r.path, r.status, r.body, r.err)
			}
		default:
			if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") {
				t.Errorf("%s: %d %q %v, want 503 saying the proxy is shutting down", r.path, r.status, r.body, r.err)
			}
		}
	}
	// A request after the cut gets no new connection.
	if resp, body := do(t, mustRequest(t, "GET", srv.URL+"/quick", nil)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a request after the cut: %d %q, want 503", resp.StatusCode, body)
	}

	want := map[string]int{"/quick": 503, "/slow": 503, "/upload": 503, "/stream": 200}
	deadline := time.Now().Add(5 * time.Second)
	for len(log.all()) < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := map[string]int{}
	for _, e := range log.all()[1:] { // the first /quick is no part of it
		got[e.Path] = e.Status
	}
	for path, status := range want {
		if got[path] != status {
			t.Errorf("access log: %s has status %d, want %d (all: %+v)", path, got[path], status, log.all())
		}
	}
	shutdowns := 0
	for _, k := range kinds.all() {
		if k == ErrorShutdown {
			shutdowns++
		}
	}
	if shutdowns != 3 {
		t.Errorf("error kinds %v, want shutdown for /slow, /upload and the /quick after the cut", kinds.all())
	}
}

// A connection UpstreamConns holds is still one the transport and
// ReverseProxy can half-close: when the client of an upgraded connection
// (a WebSocket, any Upgrade) closes its side for writing, the upstream
// sees the end of what it sent, and its answer to that still reaches the
// client, as through a transport without UpstreamConns.
func TestUpstreamConnsKeepHalfClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conns *UpstreamConns
	}{{"without UpstreamConns", nil}, {"with UpstreamConns", &UpstreamConns{}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, rw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
				rw.Flush()
				got, _ := io.ReadAll(rw.Reader) // until the client's half-close reaches here
				io.WriteString(conn, "got "+string(got))
			}), func(o *Options) { o.Transport = NewTransport(TransportOptions{Conns: tc.conns}) }, nil)
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			br := bufio.NewReader(conn)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			io.WriteString(conn, "hello")
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(br); string(b) != "got hello" {
				t.Errorf("after the client's half-close it read %q (%v), want the upstream's answer %q", b, err, "got hello")
			}
		})
	}
}
