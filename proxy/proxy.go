// Package proxy builds sessionproxy's HTTP handler: an
// httputil.ReverseProxy that loads the client's session before the
// request goes upstream, hands it to the upstream as a signed JWT in a
// request header, and applies the session directives in the upstream's
// response headers before the response goes back to the client.
//
// Each file owns one concern:
//
//   - proxy.go: Proxy, its Options and routes, and the request's way
//     through ReverseProxy (rewrite, modifyResponse, errorHandler).
//   - directive.go: parsing the upstream's X-Session-* directives.
//   - token.go: minting the X-Session JWT.
//   - observe.go: the Observer the proxy reports to (metrics implements
//     it), the error kinds and directive names it reports, and the
//     response recorder.
//   - accesslog.go: the access-log entry and its two writers.
//   - forwarded.go: the forwarding headers, believed only from trusted
//     proxies, and what is never passed on: the h2c upgrade, CONNECT
//     and TRACE.
//   - body.go: the request body's idle and send timeouts, and the bound
//     on reading what is left of it after an early answer.
//   - trailer.go: keeping the proxy's names out of trailers.
//   - shutdown.go: the upstream connections a shutdown past its deadline
//     cuts (UpstreamConns).
//
// The session cookie itself is session's business: proxy asks
// session.Manager to load, commit and strip it.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

// The defaults of Options and TransportOptions.
const (
	DefaultHeader                = "X-Session"
	DefaultTokenTTL              = 60 * time.Second
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultBodyIdleTimeout       = 30 * time.Second
	DefaultSendTimeout           = 60 * time.Second
)

// Options configures a Proxy. Zero fields take the documented defaults.
type Options struct {
	// Upstream is the app's base URL. Required.
	Upstream *url.URL
	// Routes change how requests under a path prefix are proxied; the
	// longest matching Path applies. Others go to Upstream with the
	// session cookie stripped.
	Routes []Route
	// Sessions loads and commits sessions. Required.
	Sessions *session.Manager
	// TokenSecret is the HS256 key of the session JWT. Required unless
	// TokenKey is set.
	TokenSecret []byte
	// TokenKey signs the session JWT with EdDSA or ES256 instead, its id
	// in the header's kid, so that upstreams verify it with the public
	// key alone (token.JWKS publishes it). Default nil: HS256.
	TokenKey *token.Key
	// Audience is the JWT's "aud" claim, unless the route has its own.
	// Default "": no "aud".
	Audience string
	// TokenTTL is the JWT's lifetime. Default DefaultTokenTTL.
	TokenTTL time.Duration
	// Header is the request header that carries the JWT; the directives
	// are Header+"-Set", "-Destroy", "-Renew" and "-Max-Age". Every
	// request and response header with this prefix belongs to the proxy.
	// Default DefaultHeader.
	Header string
	// Transport carries requests to the upstream. Default: NewTransport
	// with its defaults.
	Transport http.RoundTripper
	// Logger receives error logs. Default: discard.
	Logger *slog.Logger
	// AccessLog receives one entry per request (SlogAccessLog writes
	// them to a slog.Logger). Default nil: no access log.
	AccessLog AccessLogger
	// Observer is told of every request, rejected cookie, committed
	// session and error (metrics.Metrics is one). Default nil: nobody.
	Observer Observer
	// TrustedProxies may set the forwarding headers (X-Forwarded-For,
	// -Proto, -Host, X-Real-IP); from any other peer they are replaced.
	// Default none.
	TrustedProxies TrustedProxies
	// BodyIdleTimeout cuts a request body that sends nothing for this
	// long: the upstream request is aborted and the client gets 408.
	// Default DefaultBodyIdleTimeout; negative turns it off.
	BodyIdleTimeout time.Duration
	// SendTimeout aborts a request whose upstream takes no part of its
	// body for this long: the client gets 504. Default
	// DefaultSendTimeout; negative turns it off.
	SendTimeout time.Duration
}

// Route changes how requests under one path prefix are proxied.
type Route struct {
	// Path is the prefix, such as "/legacy/", matched against the request
	// path with its dot segments and repeated slashes resolved. The
	// request path is forwarded unchanged.
	Path string
	// Upstream is the route's base URL. Nil means Options.Upstream.
	Upstream *url.URL
	// ForwardCookie keeps the session cookie and its .sig in the Cookie
	// header forwarded upstream, for an app that runs koa-session with the
	// same keys and shares the session. Such an app may also set the
	// session cookie itself; see Proxy.
	ForwardCookie bool
	// Audience is the "aud" claim of the JWT for this route's requests,
	// so that a token made for one upstream is refused by another.
	// Default "": Options.Audience.
	Audience string
}

// Proxy is the session-aware reverse proxy. Create it with New.
//
// When an upstream's response sets the session cookie itself (a Koa app
// behind a ForwardCookie route, typically), that cookie wins: the proxy
// writes no session cookie of its own in that response, so it never
// re-sets a stale session over the app's. Such a response must not also
// carry session directives; if it does, it is a malformed response (502).
// The upstream may still set only the .sig cookie (koa re-signing with a
// newer key), which the proxy's own cookies replace, as cookies'
// overwrite option does.
type Proxy struct {
	opts   Options
	rp     *httputil.ReverseProxy
	minter *minter
	log    *slog.Logger
	prefix string // lower-case Header, for matching header names
	// The token and directive header names, canonical.
	tokenHeader, dirSet, dirDestroy, dirRenew, dirMaxAge string
	// The values of the Vary and Cache-Control headers of a response that
	// sets the cookie, made once. They are shared by every such response,
	// which is safe because nothing changes them in place: ReverseProxy
	// only copies them into the client's response.
	varyCookie, noCacheSetCookie []string
}

// New returns a Proxy for o, or an error naming the missing option.
func New(o Options) (*Proxy, error) {
	switch {
	case o.Upstream == nil || o.Upstream.Scheme == "" || o.Upstream.Host == "":
		return nil, errors.New("proxy: Upstream must be an absolute URL")
	case o.Sessions == nil:
		return nil, errors.New("proxy: Sessions is required")
	case len(o.TokenSecret) == 0 && o.TokenKey == nil:
		return nil, errors.New("proxy: TokenSecret or TokenKey is required")
	case len(o.TokenSecret) != 0 && o.TokenKey != nil:
		return nil, errors.New("proxy: TokenSecret and TokenKey exclude each other: an upstream holding the secret could mint tokens")
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.Header == "" {
		o.Header = DefaultHeader
	}
	if o.Transport == nil {
		o.Transport = NewTransport(TransportOptions{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.BodyIdleTimeout == 0 {
		o.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if o.SendTimeout == 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	o.Routes = slices.Clone(o.Routes)
	for i, r := range o.Routes {
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("proxy: Routes[%d].Path %q must start with /", i, r.Path)
		}
		if r.Upstream == nil {
			o.Routes[i].Upstream = o.Upstream
		} else if r.Upstream.Scheme == "" || r.Upstream.Host == "" {
			return nil, fmt.Errorf("proxy: Routes[%d].Upstream must be an absolute URL", i)
		}
		if r.Audience == "" {
			o.Routes[i].Audience = o.Audience
		}
	}
	// Longest prefix first, so that the first match is the best one.
	slices.SortStableFunc(o.Routes, func(a, b Route) int { return len(b.Path) - len(a.Path) })
	h := http.CanonicalHeaderKey(o.Header)
	p := &Proxy{
		opts:             o,
		minter:           newTokenMinter(o),
		log:              o.Logger,
		prefix:           strings.ToLower(h),
		tokenHeader:      h,
		dirSet:           h + "-Set",
		dirDestroy:       h + "-Destroy",
		dirRenew:         h + "-Renew",
		dirMaxAge:        h + "-Max-Age",
		varyCookie:       []string{"Cookie"}, // capacity 1: an Add makes a new list
		noCacheSetCookie: []string{`no-cache="Set-Cookie"`},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      o.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		BufferPool:     NewBufferPool(),
	}
	return p, nil
}

// NewBufferPool returns the httputil.BufferPool the Proxy uses: it lends
// ReverseProxy the 32 KiB buffers it copies response bodies through, which
// it would otherwise allocate for every response. (The load benchmark's
// bare proxy uses it too, so that it stays the limit.)
func NewBufferPool() httputil.BufferPool { return &bufferPool{} }

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// TransportOptions tunes NewTransport. Zero fields take the defaults.
type TransportOptions struct {
	// DialTimeout bounds connecting to the upstream. Default
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers (not the body, so streams are unaffected). Default
	// DefaultResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
	// MaxIdleConns is the keep-alive pool size. Default 1024.
	MaxIdleConns int
	// MaxConnsPerHost caps the connections to each upstream (dialing,
	// active and idle); a request past it waits for one to be free.
	// Default 0: no cap.
	MaxConnsPerHost int
	// Conns, when set, holds the transport's connections, so that
	// Conns.Cut ends them at a shutdown's deadline. Several transports
	// (one per reload) may share it. Default nil: none held.
	Conns *UpstreamConns
}

// NewTransport returns the http.Transport the proxy uses for the upstream:
// explicit timeouts, a large keep-alive pool, and no proxy from the
// environment.
func NewTransport(o TransportOptions) *http.Transport {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = 1024
	}
	dial := (&net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	if o.Conns != nil {
		dial = o.Conns.dialer(dial)
	}
	return &http.Transport{
		DialContext:           dial,
		MaxIdleConns:          o.MaxIdleConns,
		MaxIdleConnsPerHost:   o.MaxIdleConns,
		MaxConnsPerHost:       max(o.MaxConnsPerHost, 0),
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// state is what one request carries from ServeHTTP to ModifyResponse. It
// is the request's context too (the client request's context, plus itself
// under stateKey) and holds the response recorder: one allocation per
// request instead of three.
type state struct {
	context.Context
	rec     recorder
	in      *http.Request
	route   Route            // set once the session is loaded
	session *session.Session // nil until loaded
	token   [1]string        // the JWT, as the header's value list
	body    *idleBody        // the request body, when there is one
	// cancel ends the request to the upstream, for a request with a body
	// (watchUpload); answer is the upstream's body once its answer is
	// committed, for one without; stop stops waiting for the client to
	// leave.
	cancel    context.CancelFunc
	answer    answerBody
	stop      func() bool
	wrote     atomic.Bool                // the request, body and all, is written upstream
	sent      atomic.Bool                // the transport has read the whole body (idleBody): it is on its way
	arrived   atomic.Bool                // the upstream's answer came: it is being committed
	committed atomic.Bool                // the upstream's answer is committed (or refused)
	left      bool                       // the client had gone when the answer was committed
	grace     atomic.Pointer[time.Timer] // clientLeft's writeGrace, which release stops
}

// Done and Err make s, the context of the request sent upstream, one the
// client leaving does not cancel (its values are the client's): the
// upstream's answer is the app's decision, taken whether or not the
// client is still there (a logout, "log out my other devices"), and
// koa-session commits it in the app's own process either way. Waiting
// for the answer is bounded by upstreamTimeouts.responseHeader once the
// request is written. An upload the client abandons still ends the
// request (watchUpload), and once the answer is committed the client
// leaving ends the rest, so that a stream nobody reads ends as it always
// did.
func (s *state) Done() <-chan struct{} { return nil }
func (s *state) Err() error            { return nil }

// watchUpload returns the context of a request with a body to send
// upstream: cancelable, and canceled when the client leaves unless the
// request was all written upstream, or its answer came (answered then
// cancels it once the answer is committed); one whose body the transport
// has read whole gets writeGrace first. The transport's wait for the
// response headers starts only once the request is written, so an upload
// the client abandons would otherwise hold the upstream request for as
// long as the upstream does not read it.
func (s *state) watchUpload() context.Context {
	ctx, cancel := context.WithCancel(s)
	s.cancel = cancel
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { s.wrote.Store(true) },
	})
	s.stop = context.AfterFunc(s.in.Context(), s.clientLeft)
	return ctx
}

// clientLeft is called when the client of a request with a body goes
// away: it ends the request unless the answer is awaited or being
// committed.
func (s *state) clientLeft() {
	switch {
	case s.committed.Load():
		s.cancel()
	case s.wrote.Load() || s.arrived.Load():
		// The answer is awaited, or being committed.
	case s.sent.Load():
		// The transport has the whole body: it may be written already,
		// and the upstream acting on it, a moment before the trace says
		// so. Give the write a moment; an upstream that cannot take it
		// is given up then.
		s.grace.Store(time.AfterFunc(writeGrace, func() {
			if !s.wrote.Load() && !s.arrived.Load() {
				s.cancel()
			}
		}))
	default:
		s.cancel()
	}
}

// writeGrace is how long a request whose client left, and whose body the
// transport has read whole, is given to be written upstream before it is
// ended: the trace that says it was written comes after the write, and
// an upstream may already have the request (a logout form) by then.
const writeGrace = time.Second

// unread reports whether the answer comes before the proxy has read the
// client's HTTP/1 body to its end (the handler is full duplex): the
// client's connection may close before the rest is read, so the answer
// must say Connection: close, as Go's server says itself for a body it
// would not consume. A body read whole keeps the connection, whether or
// not the transport has said it wrote it (state.wrote comes after its
// last write returns, and the upstream may answer before that).
func (s *state) unread() bool {
	return s.body != nil && !s.sent.Load() && s.in.ProtoMajor == 1
}

// answered marks the upstream's answer as committed (or refused): from
// now on the client leaving ends the request, at once if it has left.
func (s *state) answered(resp *http.Response) {
	client := s.in.Context()
	s.committed.Store(true)
	s.left = client.Err() != nil
	switch {
	case s.cancel != nil: // clientLeft watches already
		if s.left {
			s.cancel()
		}
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// ReverseProxy copies both ways until either side closes
	case s.left:
		s.answer.ReadCloser = resp.Body
		resp.Body = &s.answer
		s.answer.cancel()
	case resp.ContentLength < 0 || resp.ContentLength > shortBody:
		s.answer.ReadCloser = resp.Body
		resp.Body = &s.answer
		s.stop = context.AfterFunc(client, s.answer.cancel)
	}
}

// shortBody is the longest response body whose copy the client leaving
// does not end: an upstream sends such a body at once, and its copy then
// ends by itself (a write to a client gone fails), so it needs no watch,
// which costs three allocations a request.
const shortBody = 64 << 10

// release stops waiting for the client to leave, when the request is
// done.
func (s *state) release() {
	if s.stop != nil {
		s.stop()
	}
	if t := s.grace.Load(); t != nil {
		t.Stop() // the request is over: no timer holds it
	}
	if s.cancel != nil {
		s.cancel()
	}
}

// answerBody is an upstream's response body that the client leaving
// closes: it then reads as context.Canceled, which ReverseProxy takes
// quietly, as it took the client's own cancellation.
type answerBody struct {
	io.ReadCloser
	canceled atomic.Bool
}

func (b *answerBody) cancel() {
	b.canceled.Store(true)
	b.ReadCloser.Close()
}

func (b *answerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.canceled.Load() {
		err = context.Canceled
	}
	return n, err
}

// Value returns s itself for stateKey, and otherwise asks the parent.
func (s *state) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

// route returns the route for a request path. The path is matched as
// nginx matches a location: with its dot segments and repeated slashes
// resolved, so that "/legacy/../api/" is not under "/legacy/" (an
// upstream that resolves them itself would serve it as "/api/"). The
// upstream still gets the path as the client sent it.
func (p *Proxy) route(urlPath string) Route {
	if len(p.opts.Routes) > 0 && (strings.Contains(urlPath, "/.") || strings.Contains(urlPath, "//")) {
		urlPath = cleanPath(urlPath)
	}
	for _, r := range p.opts.Routes {
		if strings.HasPrefix(urlPath, r.Path) {
			return r
		}
	}
	return Route{Path: "/", Upstream: p.opts.Upstream, Audience: p.opts.Audience}
}

// cleanPath resolves a path's dot segments and repeated slashes
// (path.Clean), keeping the trailing slash of a path that ends in one or
// in a dot segment: "/a/b/.." is the directory "/a/".
func cleanPath(p string) string {
	c := path.Clean(p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		c += "/"
	}
	return c
}

type stateKey struct{}

// ServeHTTP loads the session, forwards the request with the session JWT,
// and commits the upstream's directives on the way back.
// Every request gets one access-log line and is reported to the Observer.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &state{Context: r.Context(), rec: recorder{ResponseWriter: w, proxy: p}, in: r}
	rec := &st.rec
	defer p.finish(rec, r, st, start)

	if refusedMethod(r.Method) {
		refuseMethod(rec, r)
		return
	}
	s, err := p.opts.Sessions.Load(r.Context(), r)
	if err != nil {
		p.errorHandler(rec, r, err)
		return
	}
	if s.Rejected != "" {
		p.opts.Observer.Rejected(s.Rejected)
	}
	st.session, st.route = s, p.route(r.URL.Path)
	// The token is issued at the request's arrival: one clock read less.
	if st.token[0], err = p.minter.mint(s, st.route.Audience, start); err != nil {
		p.errorHandler(rec, r, err)
		return
	}
	var ctx context.Context = st
	if hasBody(r) {
		ctx = st.watchUpload()
		// The transport reads the body while the answer is written (an
		// upstream may answer first, and the transport reads once more
		// for EOF after the last byte). Go's HTTP/1 server otherwise
		// reads and closes what is left of the body when the answer's
		// headers are written: the transport's next read then fails, it
		// closes the upstream connection, and the answer is cut short.
		// (HTTP/2 is always full duplex.)
		if r.ProtoMajor == 1 {
			_ = http.NewResponseController(w).EnableFullDuplex()
		}
	}
	defer st.release()
	out := r.WithContext(ctx)
	if st.body = p.watchBody(w, r, st); st.body != nil {
		st.body.start = start // not an argument: that grows this frame (TestRequestsFitTheFirstStack)
		out.Body = st.body
		defer st.body.end()
	}
	p.rp.ServeHTTP(rec, out)
	p.scrubTrailers(rec.Header(), st)
}

// rewrite builds the upstream request. ReverseProxy has already removed
// hop-by-hop and X-Forwarded-* headers from pr.Out.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st, ok := pr.In.Context().Value(stateKey{}).(*state)
	if !ok || st.session == nil {
		st = &state{route: p.route(pr.In.URL.Path)}
	}
	pr.SetURL(st.route.Upstream)
	pr.Out.Host = pr.In.Host // pass the client's Host, as nginx and oauth2-proxy do
	trusted := p.setForwarded(pr)
	stripH2C(pr.Out.Header)
	p.stripRequestHeaders(pr.Out.Header, trusted)
	if !st.route.ForwardCookie {
		p.opts.Sessions.StripCookies(pr.Out.Header)
	}
	if st.token[0] != "" {
		pr.Out.Header[p.tokenHeader] = st.token[:] // canonical already; no slice to allocate
	}
}

// isOwnHeader reports whether the header name belongs to the proxy: the
// token header or anything starting with it plus "-". Underscores count
// as dashes, because CGI-style servers (WSGI, Rack, PHP) map both to the
// same variable, so "X_Session" would reach them as "X-Session".
func (p *Proxy) isOwnHeader(name string) bool {
	if len(name) < len(p.prefix) {
		return false
	}
	for i := 0; i < len(p.prefix); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == '_' {
			c = '-'
		}
		if c != p.prefix[i] {
			return false
		}
	}
	return len(name) == len(p.prefix) || name[len(p.prefix)] == '-' || name[len(p.prefix)] == '_'
}

// stripRequestHeaders removes from an upstream request every header that
// belongs to the proxy, so a client cannot forge a session or a
// directive, and, unless the peer is a trusted proxy, the other
// forwarding headers (forwardingHeader), in the same walk.
func (p *Proxy) stripRequestHeaders(h http.Header, trusted bool) {
	for k := range h {
		if p.isOwnHeader(k) || !trusted && forwardingHeader(k) {
			delete(h, k)
		}
	}
}

// stripOwnHeaders removes every header that belongs to the proxy, so an
// upstream's directives or token never reach the client.
func (p *Proxy) stripOwnHeaders(h http.Header) {
	for k := range h {
		if p.isOwnHeader(k) {
			delete(h, k)
		}
	}
}

// modifyResponse applies the upstream's session directives. Any error
// makes ReverseProxy call errorHandler instead of sending the response.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, ok := resp.Request.Context().Value(stateKey{}).(*state)
	if !ok || st.session == nil {
		return errors.New("proxy: request state missing")
	}
	st.arrived.Store(true) // from here the client leaving waits for the commit (clientLeft)
	defer st.answered(resp)
	if st.body != nil && !st.body.answered() {
		return errSendStalled // the request is being aborted (idleBody.stall)
	}
	if st.unread() {
		resp.Header.Set("Connection", "close")
	}
	p.dropDeclaredTrailers(resp)
	ch, err := p.parseDirectives(resp.Header)
	if err != nil {
		return err
	}
	if p.opts.Sessions.SetsCookie(resp.Header) {
		if !ch.IsZero() {
			return &DirectiveError{Header: "Set-Cookie", Reason: "the upstream set the session cookie itself and also sent session directives"}
		}
		p.log.Debug("the upstream set the session cookie; the proxy leaves it", "path", truncatePath(st.in.URL.Path), "upstream", st.route.Upstream.Host)
		p.setsSession(resp.Header)
		return nil
	}
	n := len(resp.Header["Set-Cookie"])
	out, err := p.opts.Sessions.Commit(resp.Request.Context(), st.in, st.session, ch, resp.Header)
	if err != nil {
		return err
	}
	p.opts.Observer.Committed(out)
	if out.Dropped {
		p.logDropped(st)
	}
	if len(resp.Header["Set-Cookie"]) > n {
		p.setsSession(resp.Header)
	}
	return nil
}

// logDropped logs a change Commit dropped (session.Outcome.Dropped). It is
// a function of its own, never inlined, so that its arguments are not in
// modifyResponse's frame, under every store write: a request's stack must
// fit a goroutine's first 8 KiB (TestRequestsFitTheFirstStack).
//
//go:noinline
func (p *Proxy) logDropped(st *state) {
	p.log.Info("session change dropped: a concurrent request ended or renewed the session first",
		"method", st.in.Method, "path", truncatePath(st.in.URL.Path), "upstream", st.route.Upstream.Host)
}

// setsSession marks a response that sets the session cookie, the proxy's
// or the upstream's own: Vary: Cookie, and not to be cached for others.
func (p *Proxy) setsSession(h http.Header) {
	switch {
	case len(h["Vary"]) == 0:
		h["Vary"] = p.varyCookie
	case !variesOnCookie(h["Vary"]): // the app's library may have said so
		h.Add("Vary", "Cookie")
	}
	p.privateCache(h)
}

// variesOnCookie reports whether a response's Vary values already cover
// the Cookie header: they name it, or are "*".
func variesOnCookie(vary []string) bool {
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return true
			}
		}
	}
	return false
}

// privateCache keeps shared caches (CDNs, caching proxies) from storing a
// response that sets a session cookie, which would hand that session to
// every later visitor: without a Cache-Control, it gets
// no-cache="Set-Cookie"; with one, "public" and "s-maxage" are dropped and
// "private" is added. The directives meant for shared caches alone, which
// a CDN obeys over Cache-Control (CDN-Cache-Control, RFC 9213, and
// Surrogate-Control), are removed.
func (p *Proxy) privateCache(h http.Header) {
	for _, name := range [...]string{"Cdn-Cache-Control", "Surrogate-Control", "Cloudflare-Cdn-Cache-Control"} {
		delete(h, name)
	}
	cc := h.Values("Cache-Control")
	if len(cc) == 0 {
		h["Cache-Control"] = p.noCacheSetCookie
		return
	}
	var kept []string
	private := false
	for _, line := range cc {
		for d := range strings.SplitSeq(line, ",") {
			d = strings.TrimSpace(d)
			name, _, _ := strings.Cut(strings.ToLower(d), "=")
			switch name {
			case "", "public", "s-maxage":
				continue
			case "private", "no-store":
				private = true
			}
			kept = append(kept, d)
		}
	}
	if !private {
		kept = append(kept, "private")
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
}

// errorHandler answers for a request that could not be proxied. The client
// gets a short generic body; the cause goes to the log.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := r.Context().Value(stateKey{}).(*state); ok && st.body != nil {
		if st.unread() { // the upstream's Connection: close went with its answer
			w.Header().Set("Connection", "close")
		}
		switch {
		case st.body.timedOut():
			p.bodyTimedOut(w, st)
			return
		case (st.body.stalled() || errors.Is(err, errSendStalled)) && st.in.Context().Err() == nil:
			// (A client gone meanwhile is counted as gone, below.)
			p.sendStalled(w, st)
			return
		}
	}
	var de *DirectiveError
	kind := errorKind(err, r)
	p.opts.Observer.UpstreamError(kind)
	status, msg := http.StatusBadGateway, "bad gateway"
	switch {
	case errors.As(err, &de):
		p.opts.Observer.DirectiveError(p.directive(de.Header))
		msg = "bad gateway: the upstream sent a malformed session directive"
	case errors.Is(err, session.ErrCookieTooLarge):
		msg = "bad gateway: the session is too large for a cookie"
	case errors.Is(err, session.ErrSessionTooLarge):
		msg = "bad gateway: the session would grow past session.maxBytes"
	case kind == ErrorStoreUnavailable:
		status, msg = http.StatusServiceUnavailable, "service unavailable: the session store cannot be reached, retry shortly"
		w.Header().Set("Retry-After", "5")
	case kind == ErrorCanceled:
		p.log.Debug("client went away", "method", r.Method, "path", truncatePath(r.URL.Path))
		if rec, ok := w.(*recorder); ok && rec.status == 0 {
			rec.status = statusClientClosed
		}
		return // the client is gone; nobody reads an answer
	case kind == ErrorTimeout:
		status, msg = http.StatusGatewayTimeout, "gateway timeout"
	case kind == ErrorShutdown:
		status, msg = http.StatusServiceUnavailable, "service unavailable: the proxy is shutting down"
	}
	// After the upstream answered, r is the outgoing request; the log
	// names the client's path and the route it took.
	path, upstream := r.URL.Path, p.route(r.URL.Path).Upstream
	if st, ok := r.Context().Value(stateKey{}).(*state); ok && st.session != nil {
		path, upstream = st.in.URL.Path, st.route.Upstream
	}
	p.log.Error("request failed", "method", r.Method, "path", truncatePath(path), "status", status, "upstream", upstream.Host, "error", err)
	answer(w, status, msg)
}

// answer writes the proxy's own answer to a request: status, and msg as
// one line of plain text that no browser sniffs as anything else.
func answer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// isClientGone reports whether the client went away before the answer:
// r is the client's request or the one sent upstream for it.
func isClientGone(err error, r *http.Request) bool {
	if st, ok := r.Context().Value(stateKey{}).(*state); ok {
		return st.in.Context().Err() != nil
	}
	return errors.Is(err, context.Canceled) && r.Context().Err() != nil
}

// isStoreUnavailable reports whether the store could not be reached: not
// a store call the client's leaving canceled.
func isStoreUnavailable(err error) bool {
	return errors.Is(err, session.ErrUnavailable) && !errors.Is(err, context.Canceled)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
