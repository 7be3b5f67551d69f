package proxy

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// errBodyIdle is the error of a request body that sent nothing for
// Options.BodyIdleTimeout.
var errBodyIdle = errors.New("proxy: the request body sent nothing for the body idle timeout")

// idleBody is a request body that fails when the client sends nothing for
// timeout while the proxy waits for it, so that a client that stops
// sending (or sends a byte a minute) does not hold an upstream connection
// for as long as it likes. Only the time spent waiting in Read counts,
// not the time the upstream takes to read: a timer started by each Read
// moves the connection's read deadline to now when it fires, which ends
// the blocked Read. An upload that keeps sending is never cut.
type idleBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	timer   *time.Timer
	mu      sync.Mutex
	done    bool // the request is over: the timer must leave the connection alone
	idle    bool // the timer fired
}

// watchBody returns r's body wrapped in an idleBody, or nil when there is
// no body or no timeout.
func (p *Proxy) watchBody(w http.ResponseWriter, r *http.Request) *idleBody {
	if p.opts.BodyIdleTimeout <= 0 || !hasBody(r) {
		return nil
	}
	b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: p.opts.BodyIdleTimeout}
	b.timer = time.AfterFunc(time.Hour, b.fire)
	b.timer.Stop()
	return b
}

// hasBody reports whether r has a body to send.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.timedOut() {
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

// stop ends the watch before the handler returns, when the connection
// may go on to serve another request.
func (b *idleBody) stop() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.timer.Stop()
}

// bodyTimedOut answers a request whose body went idle: 408, and the
// connection closed, since the rest of the body never came.
func (p *Proxy) bodyTimedOut(w http.ResponseWriter, st *state) {
	p.log.Warn("request body idle: cut", "method", st.in.Method, "path", truncatePath(st.in.URL.Path),
		"upstream", st.route.Upstream.Host, "timeout", st.body.timeout)
	w.Header().Set("Connection", "close")
	answer(w, http.StatusRequestTimeout, "request timeout: the request body stopped arriving")
}
