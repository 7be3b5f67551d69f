package proxy

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// errBodyIdle is the error of a request body that sent nothing for
// Options.BodyIdleTimeout.
var errBodyIdle = errors.New("proxy: the request body sent nothing for the body idle timeout")

// errSendStalled is the error of a request whose upstream took none of
// its body for Options.SendTimeout.
var errSendStalled = errors.New("proxy: the upstream took none of the request body for the send timeout")

// idleBody is a request body watched from both of its ends.
//
// The client's: it fails when the client sends nothing for timeout while
// the proxy waits for it, so that a client that stops sending (or sends a
// byte a minute) does not hold an upstream connection for as long as it
// likes. Only the time spent waiting in Read counts, not the time the
// upstream takes to read: a timer started by each Read moves the
// connection's read deadline to now when it fires, which ends the blocked
// Read. An upload that keeps sending is never cut.
//
// The upstream's: the transport reads the next part of the body (up to 32
// KiB, its copy buffer) only once the upstream has taken the last one, so
// the time between one Read's return and the next is the upstream's. When
// that passes send, the upstream request is aborted, as nginx's
// proxy_send_timeout does: the transport's own wait (for the response
// headers) starts only once the body is all written, so an upstream that
// hangs while a large upload fills its socket would otherwise hold the
// request for ever.
type idleBody struct {
	io.ReadCloser
	st        *state
	rc        *http.ResponseController
	timeout   time.Duration
	timer     *time.Timer // the client's wait; nil when off
	send      time.Duration
	sendTimer *time.Timer // the upstream's; nil when off
	mu        sync.Mutex
	done      bool        // the request is over: the timers must leave it alone
	idle      bool        // the client's timer fired
	ended     atomic.Bool // done, for Read: the transport may read on, with no timer to arm
	// reading is held by every read of the client's body, so that end
	// knows when none is under way; closed, under it, refuses reads once
	// the handler is done with a body it did not read to its end.
	reading sync.Mutex
	closed  bool
	w       http.ResponseWriter // the client's, for end
	start   time.Time           // the request's arrival, for end; set by ServeHTTP
	// race is decided once, by the first of the upstream's timer and its
	// answer: stalled (the request is aborted) or answered (the answer
	// is committed, never cut).
	race atomic.Int32
}

// The outcomes of idleBody.race.
const (
	sendRunning int32 = iota
	sendStalled
	sendAnswered
)

// watchBody returns r's body wrapped in an idleBody, or nil when there is
// no body. st's request to the upstream is cancelable (watchUpload). With
// both timeouts off the body is still wrapped, without timers: its EOF
// says the client's body was read whole (state.sent).
func (p *Proxy) watchBody(w http.ResponseWriter, r *http.Request, st *state) *idleBody {
	if !hasBody(r) {
		return nil
	}
	b := &idleBody{ReadCloser: r.Body, st: st, w: w}
	if p.opts.BodyIdleTimeout > 0 {
		b.rc, b.timeout = http.NewResponseController(w), p.opts.BodyIdleTimeout
		b.timer = time.AfterFunc(time.Hour, b.fire)
		b.timer.Stop()
	}
	if p.opts.SendTimeout > 0 {
		b.send = p.opts.SendTimeout
		b.sendTimer = time.AfterFunc(time.Hour, b.stall)
		b.sendTimer.Stop()
	}
	return b
}

// hasBody reports whether r has a body to send.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.reading.Lock()
	defer b.reading.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.ended.Load() { // the answer came early, the transport still sends
		return b.ReadCloser.Read(p)
	}
	if b.sendTimer != nil {
		b.sendTimer.Stop()
	}
	if b.timer != nil {
		b.timer.Reset(b.timeout)
	}
	n, err := b.ReadCloser.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err == io.EOF {
		// The upstream may have it all before the transport's trace
		// says so (state.wrote): a client leaving now gives the write
		// a moment (state.clientLeft).
		b.st.sent.Store(true)
	}
	switch {
	case err == nil || err == io.EOF:
		// After EOF too: the transport may still be writing the last part.
		if b.sendTimer != nil {
			b.sendTimer.Reset(b.send)
			if b.ended.Load() { // stop ran meanwhile: no timer outlives the request
				b.sendTimer.Stop()
			}
		}
	case b.timedOut():
		err = errBodyIdle
	}
	return n, err
}

func (b *idleBody) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.idle = true
	// Not supported (an http.ResponseWriter that is no connection's):
	// the Read goes on waiting, as without the timeout.
	_ = b.rc.SetReadDeadline(time.Now())
}

func (b *idleBody) timedOut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.idle
}

// stall aborts the upstream request when the upstream took no part of the
// body for the send timeout, unless the body was all written or the
// answer came first (answered).
func (b *idleBody) stall() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.st.wrote.Load() || !b.race.CompareAndSwap(sendRunning, sendStalled) {
		return
	}
	b.st.cancel()
}

// answered reports whether the upstream's answer may be committed: true
// unless the send timer aborted the request first.
func (b *idleBody) answered() bool {
	b.race.CompareAndSwap(sendRunning, sendAnswered)
	return b.race.Load() == sendAnswered
}

// stalled reports whether the send timer aborted the request.
func (b *idleBody) stalled() bool { return b.race.Load() == sendStalled }

// stop ends the watch before the handler returns, when the connection
// may go on to serve another request.
func (b *idleBody) stop() {
	b.ended.Store(true)
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.sendTimer != nil {
		b.sendTimer.Stop()
	}
}

// end ends the watch when the handler returns (stop). When the answer
// went out before the client's body was read to its end (state.unread),
// Go's HTTP/1 server then reads what is left, looking for its end before
// it closes the connection (up to 256 KiB, when no more than that is
// left or the body is chunked), with no deadline of its own: a client
// that sends nothing more, or waits for the 100 Continue it asked for,
// would hold the connection for ever. end bounds that read: it ends at
// most the body idle timeout from now, or at server.ReadTimeout from the
// request's start when that comes first, and Go's server then closes
// the connection. The answer is out by then: the server writes all of it
// before it reads. A client that sends the rest within the bound is read
// to its end, as before; with both timeouts off, the read is not bounded.
func (b *idleBody) end() {
	b.stop()
	if b.st.unread() {
		b.bound()
	}
}

// bound sets the read deadline that ends the server's read of the rest
// of the body, once no read of it is under way and none can start: when
// the server finishes the response, it ends a read still under way (the
// transport's, sending the body upstream) and then clears the
// connection's read deadline, ours with it; the deadline the server set
// from its ReadTimeout went the same way.
func (b *idleBody) bound() {
	now := time.Now()
	var deadline time.Time
	switch {
	case b.timedOut():
		deadline = now // the client went idle: the 408 is out, nothing more is read
	case b.timeout > 0:
		deadline = now.Add(b.timeout)
	}
	if srv, ok := b.st.in.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 {
		if d := b.start.Add(srv.ReadTimeout); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if deadline.IsZero() {
		return // no bound configured
	}
	rc := b.rc
	if rc == nil {
		rc = http.NewResponseController(b.w)
	}
	if rc.SetReadDeadline(now) != nil { // ends a read under way
		return // not a connection's writer
	}
	b.reading.Lock()
	b.closed = true
	_ = rc.SetReadDeadline(deadline)
	b.reading.Unlock()
}

// bodyTimedOut answers a request whose body went idle: 408, and the
// connection closed, since the rest of the body never came.
func (p *Proxy) bodyTimedOut(w http.ResponseWriter, st *state) {
	p.log.Warn("request body idle: cut", "method", st.in.Method, "path", truncatePath(st.in.URL.Path),
		"upstream", st.route.Upstream.Host, "timeout", st.body.timeout)
	w.Header().Set("Connection", "close")
	answer(w, http.StatusRequestTimeout, "request timeout: the request body stopped arriving")
}

// sendStalled answers a request whose upstream stopped taking its body:
// 504, and the connection closed, since the rest of the body was not read.
func (p *Proxy) sendStalled(w http.ResponseWriter, st *state) {
	p.opts.Observer.UpstreamError(ErrorTimeout)
	p.log.Error("request failed", "method", st.in.Method, "path", truncatePath(st.in.URL.Path), "status", http.StatusGatewayTimeout,
		"upstream", st.route.Upstream.Host, "error", errSendStalled, "timeout", st.body.send)
	w.Header().Set("Connection", "close")
	answer(w, http.StatusGatewayTimeout, "gateway timeout: the upstream stopped reading the request")
}
