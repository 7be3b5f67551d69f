package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ErrShutdown is the cause of a request whose upstream connection was cut
// because the server's shutdown deadline passed (UpstreamConns.Cut). The
// proxy answers such a request 503 (ErrorShutdown), when it has not
// answered yet, and logs it as any other.
var ErrShutdown = errors.New("the proxy is shutting down: its deadline passed with the request in flight")

// UpstreamConns holds the connections of the transports made with it
// (TransportOptions.Conns), so that a shutdown whose deadline passed can
// end the requests still in flight: http.Server.Close closes the client
// connections, but not the upstream ones, so a request waiting for its
// upstream's answer would go on, unlogged, until the process exits. Cut
// closes them instead: every such request ends at once, is answered 503,
// gets its access-log line and is counted. Holding a connection costs
// only at its dial and close, nothing per request. The zero value is
// ready to use.
type UpstreamConns struct {
	mu    sync.Mutex
	conns map[*upstreamConn]struct{}
	cut   atomic.Bool
}

// Cut closes every connection held, and makes the transports refuse new
// ones: from now on reading or writing any of them fails with
// ErrShutdown.
func (u *UpstreamConns) Cut() {
	u.mu.Lock()
	u.cut.Store(true)
	conns := u.conns
	u.conns = nil
	u.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// dialer wraps a transport's dial function to hold its connections.
func (u *UpstreamConns) dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if u.cut.Load() {
			return nil, fmt.Errorf("dial %s: %w", addr, ErrShutdown)
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		uc := &upstreamConn{Conn: c, set: u}
		u.mu.Lock()
		if u.cut.Load() { // cut while dialing
			u.mu.Unlock()
			c.Close()
			return nil, fmt.Errorf("dial %s: %w", addr, ErrShutdown)
		}
		if u.conns == nil {
			u.conns = map[*upstreamConn]struct{}{}
		}
		u.conns[uc] = struct{}{}
		u.mu.Unlock()
		return uc, nil
	}
}

// upstreamConn is a connection UpstreamConns holds. Its errors after the
// cut wrap ErrShutdown, so that the request it fails says why.
type upstreamConn struct {
	net.Conn
	set *UpstreamConns
}

func (c *upstreamConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.set.cut.Load() {
		err = fmt.Errorf("%w (%w)", ErrShutdown, err)
	}
	return n, err
}

func (c *upstreamConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && c.set.cut.Load() {
		err = fmt.Errorf("%w (%w)", ErrShutdown, err)
	}
	return n, err
}

// CloseWrite half-closes the connection dialed, when it can (TCP): the
// transport hands it on as an upgraded connection's, and ReverseProxy
// passes a client's half-close of a WebSocket through it. Without it a
// client's half-close would end the upgraded connection both ways at
// once, losing what the upstream still had to send.
func (c *upstreamConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("CloseWrite: %w", errors.ErrUnsupported)
}

func (c *upstreamConn) Close() error {
	c.set.mu.Lock()
	delete(c.set.conns, c)
	c.set.mu.Unlock()
	return c.Conn.Close()
}
