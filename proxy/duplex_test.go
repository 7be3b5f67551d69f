package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
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
				if !resp.Close {
					t.Errorf("request %d: answered while its body was being sent, without Connection: close", i)
				}
			}
		})
	}
}
