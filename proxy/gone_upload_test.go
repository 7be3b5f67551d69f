package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

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
