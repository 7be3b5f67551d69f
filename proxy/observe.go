package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// statusClientClosed is the status the access log and metrics give a
// request whose client went away before the answer (nginx's 499); it is
// never sent.
const statusClientClosed = 499

// recorder remembers the status and size of a response for the access log
// and the metrics. It unwraps for http.ResponseController, so flushing
// (streams, SSE) reaches the real writer, and it hijacks (WebSocket
// upgrades) through it, noting status 101.
//
// It also keeps the proxy's own headers out of informational (1xx)
// responses, which ReverseProxy relays without calling ModifyResponse: an
// upstream that echoes its request headers in a 103 Early Hints would
// otherwise hand the client its session token.
type recorder struct {
	http.ResponseWriter
	proxy  *Proxy
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if code < 200 {
		r.proxy.stripOwnHeaders(r.Header())
	}
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over for a protocol upgrade.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// finish writes the access-log entry of one request and reports it to the
// Observer. The session appears as a short hash that correlates lines
// without revealing the id.
func (p *Proxy) finish(rec *recorder, r *http.Request, st *state, start time.Time) {
	d := time.Since(start)
	status := rec.status
	switch {
	case st.left:
		status = statusClientClosed // the answer was committed, but nobody got it
	case status == 0:
		status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	p.opts.Observer.Request(r.Method, status, d)
	if p.opts.AccessLog == nil {
		return
	}
	e := AccessEntry{
		Time:     start.Add(d), // now, without asking the clock again
		Method:   r.Method,
		Path:     truncatePath(r.URL.Path),
		Status:   status,
		Duration: d,
		Bytes:    rec.bytes,
		Upstream: p.opts.Upstream.Host,
		Remote:   r.RemoteAddr,
	}
	if st.session != nil {
		e.Upstream = st.route.Upstream.Host
		if st.session.ID != "" {
			e.Session = SessionRef(st.session.ID)
		}
	}
	p.opts.AccessLog.LogAccess(r.Context(), e)
}

// SessionRef returns a short, one-way reference to a session id for logs:
// the first 8 hex digits of its SHA-256. It tells log lines of one session
// apart without letting a log reader use the id. It is computed for every
// access line: an id is one SHA-256 block, about 0.1 µs and one 8-byte
// string, less under load than a table of recent references, whose
// lookups miss the CPU's caches (docs/performance-log.md, 419d536).
func SessionRef(id string) string {
	var buf [64]byte // an id's bytes, on the stack while it fits
	sum := sha256.Sum256(append(buf[:0], id...))
	var digits [8]byte
	hex.Encode(digits[:], sum[:4])
	return string(digits[:])
}

// Observer is told what the proxy did, for metrics: the proxy declares
// what it reports, and metrics.Metrics implements it. Its methods are
// called from the requests' goroutines, concurrently, and must not block.
type Observer interface {
	// Request is called once per request, when its answer is complete
	// (status 499 when the client went away first).
	Request(method string, status int, d time.Duration)
	// Rejected is called when the client's session cookie gave no
	// session, with one of RejectReasons.
	Rejected(reason string)
	// Committed is called with what committing a response's session did.
	Committed(o session.Outcome)
	// UpstreamError is called when the proxy answered a request itself
	// with an error.
	UpstreamError(kind ErrorKind)
	// DirectiveError is called when an upstream's response had a
	// malformed directive, with the first one found.
	DirectiveError(d Directive)
}

// ErrorKind says why the proxy answered a request itself with an error.
type ErrorKind string

// The error kinds.
const (
	ErrorDirective        ErrorKind = "directive"         // malformed session directive: 502
	ErrorStoreUnavailable ErrorKind = "store_unavailable" // session store unreachable: 503
	ErrorTimeout          ErrorKind = "timeout"           // upstream too slow: 504
	ErrorConnect          ErrorKind = "connect"           // upstream unreachable: 502
	ErrorCanceled         ErrorKind = "canceled"          // client went away before the answer
	ErrorShutdown         ErrorKind = "shutdown"          // the upstream connection was cut at the shutdown deadline (UpstreamConns.Cut): 503
	ErrorTooLarge         ErrorKind = "session_too_large" // the session would outgrow its cookie or session.maxBytes: 502
	ErrorOther            ErrorKind = "other"             // any other failure: 502
)

// ErrorKinds returns every ErrorKind, for an Observer that starts its
// series at zero.
func ErrorKinds() []ErrorKind {
	return []ErrorKind{ErrorDirective, ErrorStoreUnavailable, ErrorTimeout, ErrorConnect, ErrorCanceled, ErrorShutdown, ErrorTooLarge, ErrorOther}
}

// Directive names a session directive in what the proxy reports: the
// header's name without the configurable prefix.
type Directive string

// The directives.
const (
	DirectiveSet     Directive = "set"
	DirectiveDestroy Directive = "destroy"
	DirectiveRenew   Directive = "renew"
	DirectiveMaxAge  Directive = "max_age"
	DirectiveUnknown Directive = "unknown" // a header with the prefix that is no directive
)

// Directives returns every Directive, for an Observer that starts its
// series at zero.
func Directives() []Directive {
	return []Directive{DirectiveSet, DirectiveDestroy, DirectiveRenew, DirectiveMaxAge, DirectiveUnknown}
}

// RejectReasons returns the reasons Observer.Rejected is called with:
// session's Reject* reasons.
func RejectReasons() []string {
	return []string{session.RejectTampered, session.RejectMalformed, session.RejectExpired, session.RejectUnknown, session.RejectIdle, session.RejectAbsolute}
}

// nopObserver is the Observer of a Proxy without one.
type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) Rejected(string)                    {}
func (nopObserver) Committed(session.Outcome)          {}
func (nopObserver) UpstreamError(ErrorKind)            {}
func (nopObserver) DirectiveError(Directive)           {}

// errorKind classifies an error the proxy answers for.
func errorKind(err error, r *http.Request) ErrorKind {
	var de *DirectiveError
	var oe *net.OpError
	switch {
	case errors.Is(err, ErrShutdown), errors.Is(context.Cause(r.Context()), ErrShutdown): // whatever else failed with it: the cut is the cause
		return ErrorShutdown
	case errors.As(err, &de):
		return ErrorDirective
	case isStoreUnavailable(err): // a commit after the client left fails for the store too
		return ErrorStoreUnavailable
	case errors.Is(err, session.ErrSessionTooLarge), errors.Is(err, session.ErrCookieTooLarge):
		return ErrorTooLarge
	case isClientGone(err, r):
		return ErrorCanceled
	case isTimeout(err):
		return ErrorTimeout
	case errors.As(err, &oe) && oe.Op == "dial":
		return ErrorConnect
	}
	return ErrorOther
}

// directive names a directive header.
func (p *Proxy) directive(header string) Directive {
	switch header {
	case p.dirSet:
		return DirectiveSet
	case p.dirDestroy:
		return DirectiveDestroy
	case p.dirRenew:
		return DirectiveRenew
	case p.dirMaxAge:
		return DirectiveMaxAge
	}
	return DirectiveUnknown
}
