package proxy

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sessionproxy/sessionproxy/metrics"
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

// finish writes the access-log line of one request and records it in the
// metrics. The line never holds a cookie, a query string (which may carry
// secrets) or a session id; the session appears as a short hash that
// correlates lines without revealing the id.
func (p *Proxy) finish(rec *recorder, r *http.Request, st *state, start time.Time) {
	d := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	p.opts.Metrics.Request(r.Method, status, d)
	al := p.opts.AccessLog
	if al == nil || !al.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	upstream := p.opts.Upstream
	if st.session != nil {
		upstream = st.route.Upstream
	}
	attrs := [8]slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int64("bytes", rec.bytes),
		slog.String("upstream", upstream.Host),
		slog.String("remote", r.RemoteAddr),
	}
	n := 7
	if st.session != nil && st.session.ID != "" {
		attrs[n] = slog.String("session", SessionRef(st.session.ID))
		n++
	}
	// The record is made here rather than by LogAttrs, which would also
	// look up its caller's program counter (runtime.Callers) for a source
	// that is always this line. Typed attributes: no boxing per request.
	line := slog.NewRecord(start.Add(d), slog.LevelInfo, "request", 0) // now, without asking the clock again
	line.AddAttrs(attrs[:n]...)
	_ = al.Handler().Handle(r.Context(), line) // as LogAttrs, which drops the error
}

// SessionRef returns a short, one-way reference to a session id for logs:
// the first 8 hex digits of its SHA-256. It tells log lines of one session
// apart without letting a log reader use the id.
func SessionRef(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// errorKind classifies an error the proxy answers for, for the metrics.
func errorKind(err error, r *http.Request) string {
	var de *DirectiveError
	var oe *net.OpError
	switch {
	case errors.As(err, &de):
		return metrics.ErrorDirective
	case isClientGone(err, r):
		return metrics.ErrorCanceled
	case isStoreUnavailable(err):
		return metrics.ErrorStoreUnavailable
	case isTimeout(err):
		return metrics.ErrorTimeout
	case errors.As(err, &oe) && oe.Op == "dial":
		return metrics.ErrorConnect
	}
	return metrics.ErrorOther
}

// directiveLabel maps a directive header to its metrics label.
func (p *Proxy) directiveLabel(header string) string {
	switch header {
	case p.dirSet:
		return metrics.DirectiveSet
	case p.dirDestroy:
		return metrics.DirectiveDestroy
	case p.dirRenew:
		return metrics.DirectiveRenew
	case p.dirMaxAge:
		return metrics.DirectiveMaxAge
	}
	return metrics.DirectiveUnknown
}
