package sessionproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultLeeway is the clock skew Verify allows on "exp" when
// Options.Leeway is zero.
const DefaultLeeway = 5 * time.Second

// Options configure a Manager. Zero values mean the documented defaults.
type Options struct {
	// Secret is the HS256 key the proxy signs tokens with (its
	// token.secret). Required unless JWKSURL is set.
	Secret string
	// OldSecrets are secrets the proxy signed with before token.secret
	// was rotated: tokens they verify are accepted too (for token.ttl
	// after the switch). Secret is tried first; an old secret only ever
	// verifies. Default: none.
	OldSecrets []string
	// JWKSURL is where the proxy publishes its public keys, for EdDSA and
	// ES256 tokens (its /.well-known/jwks.json). Keys are cached by kid; a
	// token with an unknown kid fetches the set again at once (a rotation),
	// however recent the last fetch, and at most every 10 s. An hour-old
	// set is fetched again in the background: a known key never waits.
	JWKSURL string
	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Audience, when set, must be in the token's "aud". Default: none,
	// and "aud" is not checked.
	Audience string
	// Header is the request header holding the token; the directives are
	// named after it (Header+"-Set", ...). Default "X-Session".
	Header string
	// Leeway is the clock skew allowed on "exp". Zero means
	// DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// Optional lets a request without a valid token through, with no
	// session (FromContext returns nil). Default: such a request gets
	// Unauthorized.
	Optional bool
	// Unauthorized answers a request without a valid token when Optional
	// is false; err says why. Default: 401 with a short text body, or 503
	// when the JWKS could not be fetched (errors.Is(err, ErrJWKS)), each
	// logged with its reason (see Logger).
	Unauthorized func(w http.ResponseWriter, r *http.Request, err error)
	// OnLateChange is told, when the handler returns, of a change made
	// after the headers went out, which never reached the proxy: one
	// made in place (to a map or slice from Get), which no call could
	// refuse, and one refused with ErrHeadersSent (Set, Renew, ...), so
	// that a change whose error the handler ignored is not lost without
	// a trace. It is called once per request, for the first such change;
	// errors.Is(err, ErrHeadersSent) holds. Default: logged at error
	// level (see Logger).
	OnLateChange func(r *http.Request, err error)
	// Logger gets the middleware's own lines: a request refused by the
	// default Unauthorized, at info for a bad token (a secret or
	// audience that does not match the proxy's shows here) and at error
	// when the JWKS cannot be fetched, each with the reason the client
	// is not told; and a late change without OnLateChange, at error.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Manager verifies the proxy's tokens and, as middleware, gives handlers
// the session. It is safe for concurrent use.
type Manager struct {
	opts    Options
	secrets []any // []byte each: Secret first, then OldSecrets; nil without Secret
	keys    *keySet
	leeway  time.Duration
	header  string
}

// New returns a Manager for opts, or an error for options that cannot
// work: neither a secret nor a JWKS URL, an empty old secret or old
// secrets without a Secret, a JWKS URL that is not an absolute http(s)
// URL, or a header name that is not one.
func New(opts Options) (*Manager, error) {
	m := &Manager{opts: opts, leeway: opts.Leeway, header: opts.Header}
	if m.opts.Logger == nil {
		m.opts.Logger = slog.Default()
	}
	if opts.Secret == "" && opts.JWKSURL == "" {
		return nil, errors.New("sessionproxy: Options.Secret (or JWKSURL) is required")
	}
	if opts.Secret != "" {
		m.secrets = append(m.secrets, []byte(opts.Secret))
	}
	if len(opts.OldSecrets) > 0 && opts.Secret == "" {
		return nil, errors.New("sessionproxy: Options.OldSecrets needs Options.Secret, the current token.secret")
	}
	for i, s := range opts.OldSecrets {
		if s == "" {
			return nil, fmt.Errorf("sessionproxy: Options.OldSecrets[%d] is empty", i)
		}
		m.secrets = append(m.secrets, []byte(s))
	}
	if opts.JWKSURL != "" {
		u, err := url.Parse(opts.JWKSURL)
		if err != nil {
			return nil, fmt.Errorf("sessionproxy: Options.JWKSURL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sessionproxy: Options.JWKSURL %q: want an absolute http or https URL", opts.JWKSURL)
		}
		m.keys = newKeySet(opts.JWKSURL, opts.HTTPClient)
	}
	switch {
	case m.leeway == 0:
		m.leeway = DefaultLeeway
	case m.leeway < 0:
		m.leeway = 0
	}
	if m.header == "" {
		m.header = "X-Session"
	}
	if strings.ContainsFunc(m.header, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) }) {
		return nil, fmt.Errorf("sessionproxy: Options.Header %q is not a valid header name", m.header)
	}
	m.header = http.CanonicalHeaderKey(m.header)
	return m, nil
}

// Handler is the middleware: it verifies the request's token, puts its
// session in the request's context (see FromContext), and sends the
// session's changes as directives to the proxy when the response's
// headers go out: on the handler's first WriteHeader, Write or Flush, or
// when it returns without writing.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := m.Verify(r.Context(), r.Header.Get(m.header))
		if err != nil {
			if m.opts.Optional {
				next.ServeHTTP(w, r)
			} else if m.opts.Unauthorized != nil {
				m.opts.Unauthorized(w, r, err)
			} else if errors.Is(err, ErrJWKS) {
				m.opts.Logger.ErrorContext(r.Context(), "sessionproxy: request refused with 503", "method", r.Method, "path", r.URL.Path, "error", err)
				http.Error(w, "503 service unavailable: session keys unavailable", http.StatusServiceUnavailable)
			} else {
				m.opts.Logger.InfoContext(r.Context(), "sessionproxy: request refused with 401", "method", r.Method, "path", r.URL.Path, "error", err)
				http.Error(w, "401 unauthorized: no valid session token", http.StatusUnauthorized)
			}
			return
		}
		s := newSession(claims)
		rw := &responseWriter{ResponseWriter: w, s: s, header: m.header}
		next.ServeHTTP(rw, r.WithContext(NewContext(r.Context(), s)))
		early := rw.done // the headers went out while the handler ran
		rw.commit()
		if !early {
			return
		}
		if op := s.refusedCall(); op != "" {
			m.lateChange(r, fmt.Errorf("%w: %s was called after that and returned the error; the change is lost", ErrHeadersSent, op))
		} else if s.changedSinceCommit() {
			m.lateChange(r, errLateChange)
		}
	})
}

// errLateChange is what OnLateChange is told of a change in place.
var errLateChange = fmt.Errorf("%w: a value from Get (or given to Set) was changed in place after that; the change is lost", ErrHeadersSent)

func (m *Manager) lateChange(r *http.Request, err error) {
	if m.opts.OnLateChange != nil {
		m.opts.OnLateChange(r, err)
		return
	}
	m.opts.Logger.ErrorContext(r.Context(), err.Error(), "method", r.Method, "path", r.URL.Path)
}

// responseWriter writes the session's directives just before the
// response's headers go out.
type responseWriter struct {
	http.ResponseWriter
	s      *Session
	header string
	done   bool  // commit ran
	sent   int   // how many directives commit added to the headers
	wrote  bool  // the headers went out: WriteHeader, Write or Flush
	err    error // the session could not be encoded
}

// commit adds the directives to the headers, once. A session that cannot
// be encoded must not be lost silently: the response becomes a 500.
func (w *responseWriter) commit() error {
	if w.done {
		return w.err
	}
	w.done = true
	ds, err := w.s.commit()
	if err != nil {
		w.err = err
		http.Error(w.ResponseWriter, "500 internal server error", http.StatusInternalServerError)
		return err
	}
	h := w.ResponseWriter.Header()
	for name := range h {
		if isDirective(name, w.header) {
			delete(h, name) // set by hand: it would undo or add to the session's changes
		}
	}
	for _, d := range ds {
		h.Set(w.header+d.suffix, d.value)
	}
	w.sent = len(ds)
	if w.s.accessed.Load() {
		// The response depends on the session, so on the cookie: a shared
		// cache must not hand it to another visitor. The proxy says so only
		// on a response that sets the cookie.
		varyCookie(h)
	}
	return nil
}

// isDirective reports whether name, in any case, is one of the directive
// headers named after header: the middleware writes those from the
// session, and drops any the handler wrote.
func isDirective(name, header string) bool {
	if len(name) <= len(header) || !strings.EqualFold(name[:len(header)], header) {
		return false
	}
	suffix := name[len(header):]
	for _, d := range [...]string{"-Set", "-Destroy", "-Renew", "-Max-Age"} {
		if strings.EqualFold(suffix, d) {
			return true
		}
	}
	return false
}

// varyCookie adds Cookie to h's Vary, unless it is there or Vary is "*".
func varyCookie(h http.Header) {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}

func (w *responseWriter) WriteHeader(code int) {
	// An informational response (103 Early Hints) sends headers but not
	// the response's own.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.commit() != nil {
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy to the response as fast as without the
// middleware (sendfile).
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	w.wrote = true
	return io.Copy(w.ResponseWriter, r)
}

// Flush sends the headers, and so the directives, with what was written.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if err := w.commit(); err != nil {
		return err
	}
	w.wrote = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection to the handler (a WebSocket upgrade). The
// session's changes end here; one made afterwards returns ErrHeadersSent.
// A handler that wrote its 101 with WriteHeader first sent the directives
// with it. Otherwise the handler would write the response itself, without
// the headers the directives are in, so when the session has changes the
// hijack is refused with ErrHijacked, and they go with the response the
// handler writes instead (its error page).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.commit(); err != nil {
		return nil, nil, err
	}
	if !w.wrote && w.sent > 0 {
		return nil, nil, ErrHijacked
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController
// (deadlines).
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
