//go:build unix

package proxy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// smallBuffers makes a socket's kernel buffers small, so that a request
// body stops moving as soon as its reader stops reading, instead of
// filling megabytes of loopback buffers first.
func smallBuffers(opt int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096) }); cerr != nil {
			return cerr
		}
		return err
	}
}

// newSendProxy runs upstream and a proxy in front of it, with small
// socket buffers between the two and the given send timeout.
func newSendProxy(t *testing.T, upstream http.Handler, send time.Duration) *httptest.Server {
	t.Helper()
	ln, err := (&net.ListenConfig{Control: smallBuffers(syscall.SO_RCVBUF)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &httptest.Server{Listener: ln, Config: &http.Server{Handler: upstream}}
	up.Start()
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(TransportOptions{})
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, Control: smallBuffers(syscall.SO_SNDBUF)}).DialContext
	t.Cleanup(tr.CloseIdleConnections)
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), Transport: tr, SendTimeout: send})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

// An upstream that hangs without reading a large upload (a deadlock, a
// stuck database call) gets its request aborted once it has taken none
// of the body for the send timeout, and the client gets 504: the wait
// for the response headers starts only once the body is written, so the
// request would otherwise stay open for ever.
func TestAnUpstreamThatStopsReadingTheBodyIs504(t *testing.T) {
	release := make(chan struct{})
	read := make(chan error, 1)
	srv := newSendProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // hung, reading nothing
		_, err := io.Copy(io.Discard, r.Body)
		read <- err
	}), 300*time.Millisecond)
	defer close(release)

	body := io.LimitReader(rand.Reader, 64<<20)
	req := mustRequest(t, http.MethodPost, srv.URL+"/upload", body)
	req.ContentLength = 64 << 20
	start := time.Now()
	resp, got := do(t, req)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d body %q after %v, want 504", resp.StatusCode, got, time.Since(start))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("answered after %v, want soon after the 300 ms send timeout", d)
	}
	release <- struct{}{}
	select {
	case err := <-read:
		if err == nil {
			t.Error("the upstream read the whole body: its request was not aborted")
		}
	case <-time.After(10 * time.Second):
		t.Error("the upstream's request is still open")
	}
}

// An upstream that keeps reading, however slowly in all, is never cut:
// only a pause in its reading counts. Here it takes a 2 MiB body in 16
// KiB parts, 10 ms apart (about 1.3 s in all, longer than the timeout).
func TestAnUpstreamThatKeepsReadingTheBodyIsNeverCut(t *testing.T) {
	const size = 2 << 20
	srv := newSendProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 16<<10)
		for {
			time.Sleep(10 * time.Millisecond)
			_, err := io.ReadFull(r.Body, buf)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		io.WriteString(w, "got all")
	}), time.Second)

	req := mustRequest(t, http.MethodPost, srv.URL+"/upload", io.LimitReader(rand.Reader, size))
	req.ContentLength = size
	if resp, got := do(t, req); resp.StatusCode != http.StatusOK || got != "got all" {
		t.Errorf("status %d body %q, want the whole body through", resp.StatusCode, got)
	}
}

// An upstream that answers before it reads the body (a stream, or a
// refusal) has its answer delivered whole: the send timeout ends with the
// answer's arrival.
func TestAnAnswerBeforeTheBodyIsReadIsNotCut(t *testing.T) {
	srv := newSendProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		for i := range 5 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond) // 750 ms in all, past the timeout
		}
	}), 300*time.Millisecond)

	req := mustRequest(t, http.MethodPost, srv.URL+"/upload", io.LimitReader(rand.Reader, 64<<20))
	req.ContentLength = 64 << 20
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || string(got) != "part 0;part 1;part 2;part 3;part 4;" {
		t.Errorf("status %d body %q (%v), want the whole stream", resp.StatusCode, got, err)
	}
}
