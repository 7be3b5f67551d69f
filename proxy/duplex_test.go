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

// readFinalResponse reads the final response from br, past any 100
// Continue: the transport may have started to send the body first.
func readFinalResponse(br *bufio.Reader) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode >= 200 {
			return resp, err
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// After an early answer, Go's server reads what is left of the request
// body once the handler returns, looking for its end before it closes
// the connection: up to 256 KiB of it when no more than that is left, or
// of a chunked body. It sets no deadline of its own for that, and clears
// the connection's (server.readTimeout's too) when it ends a read the
// transport still had under way. A client that sends nothing more, or
// one that sent Expect: 100-continue and waits for a 100 Continue, held
// the connection for ever: it is closed within the body idle timeout
// (or server.readTimeout, when that comes first), after the whole answer.
// Both with the transport still reading the body when the handler
// returns, and with the transport not reading it (an upstream that has
// stopped taking it).
func TestAClientSilentAfterAnEarlyAnswerIsClosed(t *testing.T) {
	const (
		cl100k   = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
		chunked  = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"
		expect   = "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n"
		cl10M    = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
		short    = 300 * time.Millisecond
		longIdle = time.Minute
	)
	part := strings.Repeat("a", 1000)
	for _, tc := range []struct {
		name        string
		request     string
		idle        time.Duration // Options.BodyIdleTimeout
		readTimeout time.Duration // http.Server.ReadTimeout
		unread      bool          // the transport does not read the body
	}{
		{"content-length, 256 KiB or less left", cl100k + part, short, 0, false},
		{"content-length, more than 256 KiB left", cl10M + part, short, 0, false},
		{"chunked", chunked + part + "\r\n", short, 0, false},
		{"expect 100-continue", expect, short, 0, false},
		{"server.readTimeout first", cl100k + part, longIdle, time.Second, false},
		{"body idle timeout off, server.readTimeout on", cl100k + part, -1, time.Second, false},
		{"transport not reading, content-length", cl100k + part, short, 0, true},
		{"transport not reading, chunked", chunked + part + "\r\n", short, 0, true},
		{"transport not reading, server.readTimeout first", cl100k + part, longIdle, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const answer = "no, no."
			o := Options{Sessions: mustManager(t), TokenSecret: []byte(testSecret), BodyIdleTimeout: tc.idle}
			if tc.unread {
				o.Upstream = &url.URL{Scheme: "http", Host: "upstream.invalid"}
				o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: http.StatusUnauthorized, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
						ContentLength: int64(len(answer)), Body: io.NopCloser(strings.NewReader(answer)), Request: r}, nil
				})
			} else {
				o.Upstream = earlyUpstream(t, fmt.Sprintf("HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer))
			}
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(p)
			srv.Config.ReadTimeout = tc.readTimeout
			srv.Start()
			t.Cleanup(srv.Close)
			conn := rawConn(t, srv, 10*time.Second)
			start := time.Now()
			io.WriteString(conn, tc.request)
			br := bufio.NewReader(conn)
			resp, err := readFinalResponse(br)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || string(body) != answer || err != nil || !resp.Close {
				t.Fatalf("status %d body %q (%v), Connection: close %v; want the whole 401, closing", resp.StatusCode, body, err, resp.Close)
			}
			// Then the client sends nothing.
			_, err = br.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection is still open after %v", time.Since(start))
			}
			bound := tc.idle
			if tc.readTimeout > 0 && (bound < 0 || tc.readTimeout < bound) {
				bound = tc.readTimeout
			}
			if d := time.Since(start); d > bound+3*time.Second {
				t.Errorf("the connection closed after %v, want within %v", d, bound)
			}
		})
	}
}

// A client that keeps sending the rest of its body after an early answer
// (one that sends the whole request before it reads) is read to its end
// within the bound: every part of it is taken, and the connection is
// closed after its last byte, not cut at the bound.
func TestAClientSendingTheRestAfterAnEarlyAnswerIsReadToItsEnd(t *testing.T) {
	const idle = 3 * time.Second
	u := earlyUpstream(t, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 7\r\n\r\nno, no.")
	p, err := New(Options{Upstream: u, Sessions: mustManager(t), TokenSecret: []byte(testSecret), BodyIdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	conn := rawConn(t, srv, 10*time.Second)
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("a", 1000))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || string(body) != "no, no." || err != nil {
		t.Fatalf("status %d body %q (%v), want the whole 401", resp.StatusCode, body, err)
	}
	for i := range 10 { // 1 s in all, 100 ms apart
		time.Sleep(100 * time.Millisecond)
		if _, err := io.WriteString(conn, strings.Repeat("b", 9900)); err != nil {
			t.Fatalf("part %d of the rest: %v", i, err)
		}
	}
	last := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the last byte: %v, want the connection closed", err)
	}
	if d := time.Since(last); d > idle/2 {
		t.Errorf("the connection closed %v after the last byte, want at once", d)
	}
}
