package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/sessionproxy/sessionproxy/config"
	"github.com/sessionproxy/sessionproxy/proxy"
	adminapi "github.com/sessionproxy/sessionproxy/proxy/admin"
	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

// loaded is a config file as read: the validated config and the token
// signing keys it names.
type loaded struct {
	cfg  config.Config
	keys []*token.Key // token.signingKeys, in order; none with HS256
}

// load reads and validates the config file at path and reads the token
// keys it names: what start-up, -check and every reload do.
func load(path string) (loaded, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return loaded{}, err
	}
	keys, err := config.LoadKeys(cfg)
	if err != nil {
		return loaded{}, fmt.Errorf("config %s: %w", path, err)
	}
	return loaded{cfg: cfg, keys: keys}, nil
}

// sessionStore is the session store every bundle's session.Manager
// shares: it lives as long as the process.
type sessionStore struct {
	store    session.Store // nil: sessions live in the cookie
	idPrefix string
	own      bool              // session.Options.TrustStore
	users    session.UserIndex // the store's user index; nil for the cookie store
}

// bundle is everything built from one config that a request uses. A
// request takes the current bundle when it arrives and keeps it to its
// end, so a reload never changes a request in flight. It is immutable: a
// reload builds a new one.
type bundle struct {
	cfg       config.Config
	proxy     *proxy.Proxy
	upstream  *url.URL
	transport *http.Transport
	jwks      *token.JWKS  // the published keys; nil with HS256, which publishes nothing
	sessions  http.Handler // the admin listener's /sessions API, on this bundle's session.Manager
}

// build makes the bundle of file: a session.Manager on the shared store,
// and the proxy with its token keys. It shares prev's transport (and its
// pool of upstream connections) when the upstream timeouts are the same.
func (a *app) build(file loaded, prev *bundle) (*bundle, error) {
	cfg := file.cfg
	// server.* needs a restart: the listener's settings are the ones it
	// started with.
	trusted, err := proxy.ParseTrustedProxies(a.cfg.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server.trustedProxies: %w", err)
	}
	so := sessionOptions(cfg, a.sessions.store)
	// session.format needs a restart too: the store's key layout and the
	// ids' prefix were made for the format the proxy started with, and a
	// cookie in another format would be unreadable to the running one.
	so.Format = session.Format(a.cfg.Session.Format)
	so.IDPrefix = a.sessions.idPrefix
	so.TrustStore = a.sessions.own
	so.SecureRequest = trusted.IsHTTPS
	if cfg.Session.UserKey != "" {
		so.Users = a.sessions.users
	}
	sessions, err := session.New(so)
	if err != nil {
		return nil, err
	}
	b := &bundle{cfg: cfg}
	api := http.NewServeMux()
	adminapi.Register(api, adminapi.Options{Sessions: sessions, Token: cfg.Admin.Token, Logger: a.log})
	b.sessions = api
	if b.upstream, err = url.Parse(cfg.Upstream); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	var routes []proxy.Route
	for i, r := range cfg.Routes {
		pr := proxy.Route{Path: r.Path, ForwardCookie: r.ForwardCookie, Audience: r.Audience}
		if r.Upstream != "" {
			if pr.Upstream, err = url.Parse(r.Upstream); err != nil {
				return nil, fmt.Errorf("routes[%d].upstream: %w", i, err)
			}
		}
		routes = append(routes, pr)
	}
	var accessLog proxy.AccessLogger
	switch {
	case !cfg.Log.Access || !a.log.Enabled(context.Background(), slog.LevelInfo):
	case a.cfg.Log.Format == "text": // the log's format is the one it started with
		accessLog = proxy.SlogAccessLog(a.log)
	default:
		accessLog = proxy.JSONAccessLog(a.logw)
	}
	if prev != nil && prev.cfg.UpstreamTimeouts.Dial == cfg.UpstreamTimeouts.Dial &&
		prev.cfg.UpstreamTimeouts.ResponseHeader == cfg.UpstreamTimeouts.ResponseHeader { // what the transport holds
		b.transport = prev.transport
	} else {
		b.transport = proxy.NewTransport(proxy.TransportOptions{
			DialTimeout:           time.Duration(cfg.UpstreamTimeouts.Dial),
			ResponseHeaderTimeout: time.Duration(cfg.UpstreamTimeouts.ResponseHeader),
			MaxConnsPerHost:       a.cfg.Server.MaxConnsPerUpstream,
			Conns:                 a.upstreamConns,
		})
	}
	o := proxy.Options{
		Upstream:  b.upstream,
		Routes:    routes,
		Sessions:  sessions,
		TokenTTL:  time.Duration(cfg.Token.TTL),
		Audience:  cfg.Token.Audience,
		Header:    cfg.Token.Header,
		Transport: b.transport,
		Logger:    a.log,
		AccessLog: accessLog,
		Observer:  a.metrics,

		TrustedProxies:  trusted,
		BodyIdleTimeout: bodyIdleTimeout(a.cfg.Server.BodyIdleTimeout),
		SendTimeout:     time.Duration(cfg.UpstreamTimeouts.Send),
	}
	if len(file.keys) > 0 {
		o.TokenKey = file.keys[0]
		b.jwks = token.NewJWKS(file.keys)
	} else {
		o.TokenSecret = []byte(cfg.Token.Secret)
	}
	if b.proxy, err = proxy.New(o); err != nil {
		return nil, err
	}
	return b, nil
}

// serveProxy serves a public request with the current bundle.
func (a *app) serveProxy(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header["Upgrade"]; ok {
		a.upgrades.Add(1)
		defer a.upgrades.Add(-1)
	}
	a.current.Load().proxy.ServeHTTP(w, r)
}

// serveSessions serves the admin listener's /sessions API with the
// current bundle's sessions and admin.token.
func (a *app) serveSessions(w http.ResponseWriter, r *http.Request) {
	a.current.Load().sessions.ServeHTTP(w, r)
}

// serveJWKS serves the current token keys' JWKS on the admin listener.
// With HS256 there is nothing to publish (never the secret): 404, so that
// a verifier configured for a JWKS says plainly that there is none.
func (a *app) serveJWKS(w http.ResponseWriter, r *http.Request) {
	b := a.current.Load()
	if b.jwks == nil {
		http.Error(w, "no keys are published: token.alg is HS256, whose secret verifiers must hold themselves", http.StatusNotFound)
		return
	}
	b.jwks.ServeHTTP(w, r)
}

// A reloadStep is one part of a reload. prepare builds what the new
// config needs without changing anything that is serving, and returns
// the commit that puts it in place. A reload runs every step's prepare
// and, only when all succeed, every commit, so that a failed reload
// changes nothing. Something else that SIGHUP should re-read (a TLS
// certificate, say) is one more step in app.reloadSteps.
type reloadStep struct {
	name    string
	prepare func(next loaded) (commit func(), err error)
}

// prepareBundle is the reload step of the proxy itself: a new bundle
// (cookie keys and options, session timeouts, routes and upstreams, token
// alg, keys, secret and audiences, the published JWKS) for new requests.
func (a *app) prepareBundle(next loaded) (func(), error) {
	prev := a.current.Load()
	b, err := a.build(next, prev)
	if err != nil {
		return nil, err
	}
	return func() {
		a.current.Store(b)
		if b.transport != prev.transport {
			prev.transport.CloseIdleConnections() // busy ones finish with their requests
		}
	}, nil
}

// reloadOn reloads the config on every value from hup until ctx is done.
func (a *app) reloadOn(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = a.reload()
		}
	}
}

// reload re-reads the config file. A valid one takes effect for new
// requests; the settings it changes that need a restart are logged by
// name as not applied. An invalid one changes nothing, and every problem
// is logged, as -check reports them. Both are counted.
func (a *app) reload() error {
	err := a.tryReload()
	if err != nil {
		a.metrics.Reloaded(false, time.Now())
		a.log.Error("config reload failed; still serving the previous config", "file", a.path, "problems", problems(err))
		return err
	}
	a.metrics.Reloaded(true, time.Now())
	return nil
}

func (a *app) tryReload() error {
	next, err := load(a.path)
	if err != nil {
		return err
	}
	var commits []func()
	var errs []error
	for _, s := range a.reloadSteps {
		commit, err := s.prepare(next)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			continue
		}
		commits = append(commits, commit)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	prev := a.current.Load().cfg
	for _, commit := range commits {
		commit()
	}
	changed := changedSettings(prev, next.cfg)
	attrs := []any{"file", a.path, "changed", changed, "token.alg", next.cfg.Token.Alg}
	if len(next.keys) > 0 {
		attrs = append(attrs, "kid", next.keys[0].ID)
	}
	a.log.Info("config reloaded", attrs...)
	if names := notApplied(a.cfg, next.cfg); len(names) > 0 {
		a.log.Warn("config reload: these settings need a restart and were not applied", "settings", names)
	}
	return nil
}

// restartSettings are the settings a reload cannot apply (YAML paths; a
// prefix covers what is under it): the listeners and their limits are
// open, the store is connected and its key layout (with session.format)
// fixed, and the logger is made.
var restartSettings = []string{"listen", "admin.listen", "admin.pprof", "server", "store", "session.format", "log.format", "log.level"}

// notApplied names the settings that differ between the running config
// and next but need a restart.
func notApplied(running, next config.Config) []string {
	var out []string
	for _, name := range changedSettings(running, next) {
		for _, r := range restartSettings {
			if name == r || strings.HasPrefix(name, r+".") {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// changedSettings names, by YAML path, every setting whose value differs
// between a and b (never the values: some are secrets).
func changedSettings(a, b config.Config) []string {
	var out []string
	var walk func(x, y reflect.Value, prefix string)
	walk = func(x, y reflect.Value, prefix string) {
		if x.Kind() == reflect.Struct && x.Type().NumMethod() == 0 {
			for i := range x.NumField() {
				name, _, _ := strings.Cut(x.Type().Field(i).Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				walk(x.Field(i), y.Field(i), prefix+name+".")
			}
			return
		}
		if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			out = append(out, strings.TrimSuffix(prefix, "."))
		}
	}
	walk(reflect.ValueOf(a), reflect.ValueOf(b), "")
	return out
}

// problems lists an error's problems, one per line of its message (a
// config error joins one per line), for the log.
func problems(err error) []string {
	var out []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}
