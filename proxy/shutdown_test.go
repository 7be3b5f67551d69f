package proxy

import (
	"io"
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
