package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/config"
	"github.com/sessionproxy/sessionproxy/metrics"
	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
	"github.com/sessionproxy/sessionproxy/session/redisstore"
)

// loggedError is an error run has logged already.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// run is the whole program: it parses args, loads the config, and serves
// until ctx is cancelled, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("sessionproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path to the YAML config `file` (required)")
	check := fs.Bool("check", false, "validate the config and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	genkey := fs.String("genkey", "", "print a new PKCS#8 PEM private key of `kind` ed25519 (token.alg EdDSA) or p256 (ES256) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -help: the usage is printed, and asking for it is no failure
		}
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, "sessionproxy", version)
		return nil
	}
	if *genkey != "" {
		pem, err := token.Generate(*genkey)
		if err != nil {
			return err
		}
		_, err = stdout.Write(pem)
		return err
	}
	if *configPath == "" {
		return errors.New("-config FILE is required")
	}
	file, err := load(*configPath)
	if err != nil {
		return err
	}
	if *check {
		// What a start would read besides the config: the TLS files.
		if t := file.cfg.Server.TLS; t.Enabled() {
			if _, err := loadCertificate(t.CertFile, t.KeyFile); err != nil {
				return fmt.Errorf("config %s: %w", *configPath, err)
			}
		}
		if file.cfg.Store.Type == "redis" {
			if _, err := redisTLS(file.cfg.Store.Redis.TLS); err != nil {
				return fmt.Errorf("config %s: %w", *configPath, err)
			}
		}
		for _, w := range file.cfg.Warnings() {
			fmt.Fprintf(stdout, "%s: warning: %s\n", *configPath, w)
		}
		fmt.Fprintf(stdout, "%s: ok\n", *configPath)
		return nil
	}
	// SIGHUP reloads the config; caught before anything is served, so that
	// an early one never kills the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	lw := newLogWriter(stderr, logFlushInterval)
	defer lw.Close()
	log := newLogger(file.cfg.Log, lw)
	// From here on a failure (a port in use, a shutdown past its
	// deadline) is the log's last line, in its format: main prints it no
	// more.
	defer func() {
		if err != nil {
			log.Error("exiting", "error", err)
			err = loggedError{err}
		}
	}()
	for _, w := range file.cfg.Warnings() {
		log.Warn("weak configuration", "problem", w)
	}

	sampleHeap(file.cfg.Admin.Pprof)
	app, err := newApp(ctx, file, log, lw)
	if err != nil {
		return err
	}
	defer app.close()
	app.path = *configPath
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go app.reloadOn(ctx, hup)
	return app.serve(ctx)
}

// sampleHeap turns the runtime's heap profiling off unless admin.pprof
// serves the profile (a restart setting, so this runs once). Profiling
// samples an allocation every 512 KiB and walks its stack: about one
// request in forty here, 0.5 % of the proxy's CPU under load, for a
// profile nobody can read. The bare ReverseProxy of the load benchmark
// pays none of it, because a program that never reads the heap profile
// is linked without it.
func sampleHeap(pprof bool) {
	if !pprof {
		runtime.MemProfileRate = 0
	}
}

// logFlushInterval is how long an info log line (the access log) may wait
// in the buffer; warnings and errors are written at once.
const logFlushInterval = 100 * time.Millisecond

func newLogger(c config.Log, w *logWriter) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(flushHandler{h, w})
}

// app is the running proxy: its listeners and what they serve. What a
// reload may change is in the current bundle; the rest (listeners, store,
// metrics, logger) lives as long as the process.
type app struct {
	cfg      config.Config // as started: the settings a reload does not apply
	upstream *url.URL
	log      *slog.Logger
	logw     io.Writer
	handler  http.Handler
	admin    http.Handler
	cert     *certificate // the public listener's, with server.tls; else nil
	closers  []func()

	path        string           // the config file, re-read by reload
	metrics     *metrics.Metrics // shared by every bundle
	sessions    sessionStore     // the store every bundle's session.Manager uses
	current     atomic.Pointer[bundle]
	reloadSteps []reloadStep // run by reload, in order
	// upgrades counts the requests that asked for an upgrade (WebSockets)
	// still being served: http.Server.Shutdown does not wait for a
	// connection once it is hijacked.
	upgrades atomic.Int64
	// upstreamConns holds every bundle's connections to the upstreams,
	// for cut.
	upstreamConns *proxy.UpstreamConns
	// requests is the public listener's requests' base context; cut
	// cancels it with proxy.ErrShutdown, which tells a request failing
	// then why. (The admin listener's requests are cut by closing their
	// connections: a CPU profile would end early and look complete.)
	requests   context.Context
	cutRequest context.CancelCauseFunc
}

// newApp builds the proxy. logw is where log writes; the JSON access log
// is written there too.
func newApp(ctx context.Context, file loaded, log *slog.Logger, logw io.Writer) (_ *app, err error) {
	cfg := file.cfg
	a := &app{cfg: cfg, log: log, logw: logw, upstreamConns: &proxy.UpstreamConns{}}
	a.requests, a.cutRequest = context.WithCancelCause(context.Background())
	defer func() {
		if err != nil {
			a.close() // e.g. the Redis client made before a later step failed
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m, err := metrics.New(reg, version)
	if err != nil {
		return nil, err
	}

	st, err := newStore(ctx, cfg, m, log)
	if err != nil {
		return nil, err
	}
	if st.close != nil {
		a.closers = append(a.closers, st.close)
	}
	m.ConfigLoaded(time.Now())
	a.metrics = m
	a.sessions = sessionStore{store: m.Store(st.store), idPrefix: st.idPrefix, own: st.own} // times every store operation; nil stays nil
	a.sessions.users, _ = st.store.(session.UserIndex)                                      // both server-side stores are
	b, err := a.build(file, nil)
	if err != nil {
		return nil, err
	}
	a.current.Store(b)
	a.reloadSteps = []reloadStep{{name: "proxy", prepare: a.prepareBundle}}
	if t := cfg.Server.TLS; t.Enabled() {
		if a.cert, err = loadCertificate(t.CertFile, t.KeyFile); err != nil {
			return nil, err
		}
		a.reloadSteps = append(a.reloadSteps, reloadStep{name: "tls", prepare: a.prepareCertificate})
	}
	a.handler = http.HandlerFunc(a.serveProxy)
	a.upstream = b.upstream
	admin := http.NewServeMux()
	admin.HandleFunc("GET "+token.JWKSPath, a.serveJWKS)
	admin.Handle("/", adminHandler(st.ready, reg, cfg.Admin.Pprof))
	admin.HandleFunc("/sessions", a.serveSessions)
	admin.HandleFunc("/sessions/", a.serveSessions)
	a.admin = admin
	return a, nil
}

// bodyIdleTimeout is proxy.Options.BodyIdleTimeout for the config's
// server.bodyIdleTimeout, whose 0 turns it off.
func bodyIdleTimeout(d config.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}

// store is the session store the config asks for.
type store struct {
	store    session.Store               // nil: sessions live in the cookie
	ready    func(context.Context) error // /readyz: the store answers
	idPrefix string                      // session.Options.IDPrefix
	own      bool                        // session.Options.TrustStore: only this process writes it
	close    func()                      // nil when there is nothing to close
}

// newStore builds the store of cfg.Store. Its key layout is the session
// format's (session.Format.StoreKeys).
func newStore(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (store, error) {
	switch cfg.Store.Type {
	case "cookie":
		return store{ready: func(context.Context) error { return nil }}, nil
	case "memory":
		mem := session.NewMemoryStore(session.MemoryOptions{MaxEntries: cfg.Store.Memory.MaxEntries, MaxBytes: cfg.Store.Memory.MaxBytes})
		if err := m.WatchStore(mem); err != nil {
			return store{}, err
		}
		return store{store: mem, ready: mem.Ping, own: true}, nil
	case "redis":
		// go-redis logs through one logger for the whole process; send its
		// lines (a pool that cannot dial, say) through the proxy's log, so
		// that log.format json holds for every line.
		redis.SetLogger(redisLog{log})
		client, err := newRedisClient(cfg.Store.Redis)
		if err != nil {
			return store{}, err
		}
		keys := session.Format(cfg.Session.Format).StoreKeys(cfg.Store.Redis.KeyPrefix)
		r, err := redisstore.New(client, redisstore.Options{
			Prefix:     keys.KeyPrefix,
			UserPrefix: cfg.Store.Redis.KeyPrefix + "user:",
			HashIDs:    keys.HashIDs,
			Timeout:    time.Duration(cfg.Store.Redis.Timeout),
			Pipeline:   cfg.Store.Redis.Pipeline,
		})
		if err != nil {
			client.Close()
			return store{}, err
		}
		// Redis may come up after the proxy: warn, serve, and let
		// /readyz say when it answers.
		if err := r.Ping(ctx); err != nil {
			log.Warn("redis is not usable yet (down, or refusing the credentials, db or ACL): sessions get 503 until it is", "addrs", cfg.Store.Redis.Addrs, "error", err)
		}
		return store{store: r, ready: r.Ping, idPrefix: keys.IDPrefix, close: func() { client.Close() }}, nil
	}
	return store{}, fmt.Errorf("store.type %q is not available in this build", cfg.Store.Type)
}

// redisLog is go-redis's logger on the proxy's: its lines are warnings
// (a connection it could not make or keep), with the client's text as
// the message, but for the Sentinel client's news (the master it
// selected, a failover's new master, a sentinel it found), which are
// information.
type redisLog struct{ log *slog.Logger }

// redisNews are the formats of go-redis's informational lines.
var redisNews = []string{"sentinel: selected addr=", "sentinel: new master=", "sentinel: discovered new sentinel="}

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	level := slog.LevelWarn
	for _, news := range redisNews {
		if strings.HasPrefix(format, news) {
			level = slog.LevelInfo
		}
	}
	l.log.Log(ctx, level, "redis client: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// sessionOptions copies the config into session.Options.
func sessionOptions(cfg config.Config, store session.Store) session.Options {
	s := cfg.Session
	maxAge := session.MaxAge(s.MaxAge.Duration)
	if s.MaxAge.Session {
		maxAge = session.Browser
	}
	sameSite := map[string]http.SameSite{
		"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode,
	}[strings.ToLower(s.SameSite)]
	return session.Options{
		Name:             s.Key,
		Keys:             cfg.Keys,
		Format:           session.Format(s.Format),
		Unsigned:         !s.Signed,
		KeygripAlgorithm: s.KeygripAlgorithm,
		MaxAge:           maxAge,
		Cookie: http.Cookie{
			Path:     s.Path,
			Domain:   s.Domain,
			HttpOnly: s.HTTPOnly,
			Secure:   s.Secure == config.SecureOn,
			SameSite: sameSite,
		},
		SecureAuto:      s.Secure == config.SecureAuto,
		Rolling:         s.Rolling,
		Renew:           s.Renew,
		NoOverwrite:     !s.Overwrite,
		Store:           store,
		IdleTimeout:     time.Duration(s.IdleTimeout),
		AbsoluteTimeout: time.Duration(s.AbsoluteTimeout),
		UserKey:         s.UserKey,
		MaxBytes:        s.MaxBytes,
	}
}

// adminHandler serves the operator's endpoints: /healthz (the process is
// up), /readyz (ready reports no error: the store is reachable) and
// /metrics (what metrics gathers). They are never on the public listener.
// With withPprof it also serves net/http/pprof's profiles under
// /debug/pprof/.
func adminHandler(ready func(context.Context) error, gatherer prometheus.Gatherer, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: session store unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// close closes what the app opened (the Redis client). It runs at exit,
// and at the shutdown deadline from cut; the second call does nothing.
func (a *app) close() {
	closers := a.closers
	a.closers = nil
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// serve runs the public and admin listeners until ctx is done, then shuts
// them down, letting in-flight requests finish.
func (a *app) serve(ctx context.Context) error {
	pub, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	servers := []*http.Server{a.server(a.handler)}
	servers[0].BaseContext = func(net.Listener) context.Context { return a.requests }
	listeners := []net.Listener{pub}
	attrs := []any{"listen", pub.Addr().String(), "upstream", a.upstream.Redacted(), "version", version}
	if a.cert != nil {
		servers[0].TLSConfig = a.cert.tlsConfig()
		attrs = append(attrs, "tls", true)
	}
	if a.cfg.Admin.Listen != "" {
		adm, err := net.Listen("tcp", a.cfg.Admin.Listen)
		if err != nil {
			pub.Close()
			return fmt.Errorf("admin.listen: %w", err)
		}
		listeners = append(listeners, adm)
		servers = append(servers, a.server(a.admin))
		attrs = append(attrs, "admin", adm.Addr().String())
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() {
			if s.TLSConfig != nil {
				errc <- s.ServeTLS(listeners[i], "", "") // the certificate comes from TLSConfig
				return
			}
			errc <- s.Serve(listeners[i])
		}()
	}
	a.log.Info("listening", attrs...)

	select {
	case err := <-errc:
		// One server failed: stop the other too, so nothing is left
		// serving (or leaking) when run returns.
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	timeout := time.Duration(a.cfg.Server.ShutdownTimeout)
	a.log.Info("shutting down", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.Shutdown(sctx) }()
	}
	var late error
	for range servers {
		if err := <-errs; err != nil && late == nil {
			late = fmt.Errorf("shutdown: requests still in flight after server.shutdownTimeout %v were cut: %w", timeout, err)
		}
	}
	// Shutdown waited for every request but the upgraded ones: their
	// connections were hijacked. Wait for them until the same deadline.
	for late == nil && a.upgrades.Load() > 0 {
		select {
		case <-sctx.Done():
			late = fmt.Errorf("shutdown: %d upgraded connections (WebSockets) still open after server.shutdownTimeout %v were cut", a.upgrades.Load(), timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if late != nil {
		a.cut(servers)
		return late
	}
	a.log.Info("stopped")
	return nil
}

// cutGrace is how long the requests cut at the shutdown deadline get to
// answer and be logged, and the admin listener's to finish, before every
// connection is closed.
const cutGrace = time.Second

// cut ends what is still in flight once server.shutdownTimeout has
// passed. http.Server.Close alone would close the client connections and
// leave each request waiting on its upstream running, unlogged, until the
// process exits. So the upstream connections are closed first: each such
// request ends at once, answers 503 if it had not answered yet, and
// writes its access-log line (a stream or a WebSocket ends, logged with
// the status it sent). Every public request's context is canceled with
// proxy.ErrShutdown too, and the Redis client is closed, so that a request
// waiting on the store (which waits out store.redis.timeout whatever its
// context) ends and answers 503 the same way. Within cutGrace they have;
// then the listeners' connections still open are closed.
func (a *app) cut(servers []*http.Server) {
	a.upstreamConns.Cut()
	a.cutRequest(proxy.ErrShutdown)
	a.close() // the Redis client: a request waiting on a stuck Redis ends
	ctx, cancel := context.WithTimeout(context.Background(), cutGrace)
	defer cancel()
	done := make(chan struct{}, len(servers))
	for _, s := range servers {
		go func() {
			_ = s.Shutdown(ctx) // returns once the cut requests have answered
			s.Close()
			done <- struct{}{}
		}()
	}
	for range servers {
		<-done
	}
	for a.upgrades.Load() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// server returns an http.Server for h with the configured limits.
func (a *app) server(h http.Handler) *http.Server {
	c := a.cfg.Server
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(c.ReadTimeout),
		WriteTimeout:      time.Duration(c.WriteTimeout),
		IdleTimeout:       time.Duration(c.IdleTimeout),
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// redisTLS is the TLS config of the connections to Redis: nil without
// TLS. It reads store.redis.tls.caFile, which -check reads too.
func redisTLS(c config.RedisTLS) (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	t := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // an explicit, documented testing option
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.redis.tls.caFile: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.redis.tls.caFile: %s holds no PEM certificate", c.CAFile)
		}
	}
	return t, nil
}

// newRedisClient builds the go-redis client for c: Sentinel when a master
// name is set, Cluster with several addresses or cluster: true, else
// standalone. Every wait is bounded by c.Timeout, so an unreachable Redis
// answers with an error in that time.
func newRedisClient(c config.RedisStore) (redis.UniversalClient, error) {
	timeout := time.Duration(c.Timeout)
	o := &redis.UniversalOptions{
		Addrs:                 c.Addrs,
		MasterName:            c.MasterName,
		IsClusterMode:         c.Cluster,
		Username:              c.Username,
		Password:              c.Password,
		SentinelPassword:      c.SentinelPassword,
		DB:                    c.DB,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		ContextTimeoutEnabled: true,
		ClientName:            "sessionproxy",
	}
	var err error
	if o.TLSConfig, err = redisTLS(c.TLS); err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}
