package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// lateEOF is an upstream request body whose reader (the transport)
// comes back for the end of the body only once release is closed: the
// transport reads ContentLength bytes, then once more to see EOF, and
// that second read may come after the answer's headers reached the
// client.
type lateEOF struct {
	io.ReadCloser
	left    int64
	release <-chan struct{}
}

func (b *lateEOF) Read(p []byte) (int, error) {
	if b.left <= 0 {
		select {
		case <-b.release:
		case <-time.After(10 * time.Second):
		}
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil // the EOF comes with the next read, once released
	}
	return n, err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The transport reads a request body while the upstream's answer is
// written to the client (an upstream may answer before it has the whole
// body, and the transport checks for the body's EOF after its last byte).
// Go's HTTP/1 server, unless told the handler is full duplex, reads and
// closes what is left of the request body when the response's headers
// are written: the transport's read then fails, which closes the
// upstream connection, and the answer was cut short mid-stream. Whole
// answers, every time.
func TestAnAnswerWrittenWhileTheBodyIsSentIsWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*Options)
	}{
		{"body timeouts on", nil},
		{"body timeouts off", func(o *Options) { o.BodyIdleTimeout, o.SendTimeout = -1, -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var release chan struct{}
			tr := NewTransport(TransportOptions{})
			t.Cleanup(tr.CloseIdleConnections)
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := range 3 { // the app answers before it reads the body
					fmt.Fprintf(w, "part %d;", i)
					w.(http.Flusher).Flush()
					time.Sleep(20 * time.Millisecond)
				}
			}), func(o *Options) {
				if tc.opts != nil {
					tc.opts(o)
				}
				o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
					mu.Lock()
					rel := release
					mu.Unlock()
					r.Body = &lateEOF{ReadCloser: r.Body, left: r.ContentLength, release: rel}
					return tr.RoundTrip(r)
				})
			}, nil)
			for i := range 3 {
				mu.Lock()
				release = make(chan struct{})
				rel := release
				mu.Unlock()
				req := mustRequest(t, http.MethodPost, srv.URL+"/upload", strings.NewReader(strings.Repeat("x", 2048)))
				resp, err := http.DefaultClient.Do(req)
				close(rel) // the answer's headers are here: the transport may look for EOF
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != "part 0;part 1;part 2;" {
					t.Fatalf("request %d: status %d body %q (%v), want the whole answer", i, resp.StatusCode, got, err)
				}
			}
		})
	}
}

// An answer that comes after the client's body was read whole keeps the
// client's connection, even when the transport has not yet said it wrote
// the request (its WroteRequest trace comes after its last write
// returns, and the upstream may answer before that): only a body the
// proxy has not read to its end leaves the connection out of step.
func TestAnAnswerToABodyReadWholeKeepsTheConnection(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	tr := NewTransport(TransportOptions{})
	t.Cleanup(tr.CloseIdleConnections)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) {
		c, err := dial(ctx, n, a)
		if err != nil {
			return c, err
		}
		return &lateWriteConn{Conn: c, last: "csrf=x", release: release, closed: make(chan struct{})}, nil
	}
	p, err := New(Options{Upstream: u, Sessions: mustManager(t), TokenSecret: []byte(testSecret), Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	resp, body := do(t, mustRequest(t, http.MethodPost, srv.URL+"/form", strings.NewReader("csrf=x")))
	once.Do(func() { close(release) })
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("status %d body %q, want 200 ok", resp.StatusCode, body)
	}
	if resp.Close {
		t.Error("an answer to a body the proxy had read whole says Connection: close")
	}
}

// earlyUpstream answers every request with answer as soon as it has the
// request's headers, and reads nothing more.
func earlyUpstream(t testing.TB, answer string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				io.WriteString(c, answer)
				<-done
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// An answer the client gets before the proxy has read its body to the
// end says Connection: close, the upstream's or the proxy's own: the
// rest of the body is still on the connection, and Go's server (the
// handler being full duplex) does not say so itself. Without it, a
// client that sends the rest and then its next request finds the
// connection closed (over 256 KiB left), or Go's server panics serving
// that next request ("invalid concurrent Body.Read call": the read that
// watches for the client leaving, started by the rest's EOF after the
// handler returned, is still running).
func TestAnAnswerBeforeTheBodyIsReadClosesTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		upstream func(testing.TB) *url.URL
		status   int
	}{
		{"early answer", func(t testing.TB) *url.URL {
			return earlyUpstream(t, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nno")
		}, http.StatusUnauthorized},
		{"malformed directive in an early answer", func(t testing.TB) *url.URL {
			return earlyUpstream(t, "HTTP/1.1 200 OK\r\nX-Session-Set: {not json\r\nContent-Length: 2\r\n\r\nok")
		}, http.StatusBadGateway},
		{"upstream down", func(t testing.TB) *url.URL {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
			return &url.URL{Scheme: "http", Host: ln.Addr().String()}
		}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Options{Upstream: tc.upstream(t), Sessions: mustManager(t), TokenSecret: []byte(testSecret)})
			if err != nil {
				t.Fatal(err)
			}
			var serverLog strings.Builder
			var mu sync.Mutex
			srv := httptest.NewUnstartedServer(p)
			srv.Config.ErrorLog = log.New(writerFunc(func(b []byte) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				return serverLog.Write(b)
			}), "", 0)
			srv.Start()
			t.Cleanup(srv.Close)
			conn := rawConn(t, srv, 10*time.Second)
			io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("a", 1000))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !resp.Close {
				t.Errorf("status %d, Connection: close %v; want %d, and the connection closed", resp.StatusCode, resp.Close, tc.status)
			}
			// A client that sends the rest anyway, then its next request.
			io.WriteString(conn, strings.Repeat("a", 99000)+"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			if next, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("the connection served a request after the close: %d", next.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(serverLog.String(), "panic") {
				t.Errorf("the server panicked: %s", serverLog.String())
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
