// Package metrics owns sessionproxy's Prometheus metrics: every family the
// proxy exposes, registered on a registry the caller passes in (never the
// global one); Metrics, the proxy.Observer that counts what the proxy
// reports; and Store, a session.Store decorator that times the store's
// operations. The label values are the ones the proxy declares.
//
// Every family is named sessionproxy_*, in base units, with labels drawn
// only from small fixed sets (never a path, a session id or a user value).
// docs/operations.md says what each one means.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

// Store operations, the values of the store families' operation label.
const (
	OpLoad   = "load"
	OpSave   = "save"
	OpDelete = "delete"
	OpUpdate = "update"
)

// Metrics records what the proxy does. Create it with New. A nil *Metrics
// records nothing, so callers need no checks.
type Metrics struct {
	reg prometheus.Registerer

	requests        *prometheus.CounterVec
	requestDuration prometheus.Histogram
	upstreamErrors  *prometheus.CounterVec
	directiveErrors *prometheus.CounterVec
	created         prometheus.Counter
	destroyed       prometheus.Counter
	renewed         prometheus.Counter
	dropped         prometheus.Counter
	rejected        *prometheus.CounterVec
	storeDuration   *prometheus.HistogramVec
	storeErrors     *prometheus.CounterVec
	reload          reloadMetrics
	// counted holds, per method label, the requests counter of each
	// status 100-599 once it has been used: WithLabelValues formats the
	// status, hashes both labels and takes a lock on every call. A
	// method's row is made on its first request, not up front: memory
	// held from the start is marked again by every collection (a site
	// that sees GET and POST holds two rows of 4 KB, not ten).
	counted [len(methods)]atomic.Pointer[statusCounters]
}

// statusCounters holds one method's requests counters, by status - 100.
type statusCounters [500]atomic.Pointer[counter]

// counter is a resolved series of a CounterVec.
type counter struct{ prometheus.Counter }

// methods are the values of the method label; the last is for any other
// method.
var methods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "other",
}

// New registers sessionproxy's metric families on reg and returns the
// Metrics that record them. version is exposed in sessionproxy_build_info.
// It fails if a family is already registered on reg.
func New(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionproxy_http_requests_total",
			Help: "Requests served on the public listener, by status code and method.",
		}, []string{"code", "method"}),
		requestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sessionproxy_http_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response (the upstream's time included).",
			Buckets: prometheus.DefBuckets,
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionproxy_upstream_errors_total",
			Help: "Requests the proxy answered itself with an error instead of the upstream's response, by kind.",
		}, []string{"kind"}),
		directiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionproxy_directive_errors_total",
			Help: "Upstream responses rejected for a malformed session directive, by directive.",
		}, []string{"directive"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessionproxy_sessions_created_total",
			Help: "New sessions saved for the first time.",
		}),
		destroyed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessionproxy_sessions_destroyed_total",
			Help: "Existing sessions destroyed by the upstream (X-Session-Destroy, and a user's other sessions with others or all).",
		}),
		renewed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessionproxy_sessions_renewed_total",
			Help: "Sessions renewed by the upstream (new id, or a re-issued cookie in the koa format).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessionproxy_session_changes_dropped_total",
			Help: "Upstream session changes not applied because a concurrent request had ended or renewed the session first (a logout is not undone).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionproxy_cookies_rejected_total",
			Help: "Session cookies that gave no session, by reason; the client got a fresh session.",
		}, []string{"reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessionproxy_store_operation_duration_seconds",
			Help:    "Duration of session store operations, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionproxy_store_errors_total",
			Help: "Session store operations that failed (an outage, not a missing session), by operation.",
		}, []string{"operation"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sessionproxy_build_info",
		Help:        "Always 1; its labels give the running build's version and Go version.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)

	for _, c := range []prometheus.Collector{
		m.requests, m.requestDuration, m.upstreamErrors, m.directiveErrors,
		m.created, m.destroyed, m.renewed, m.dropped, m.rejected, m.storeDuration, m.storeErrors, build,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := m.reload.register(reg); err != nil {
		return nil, err
	}
	// Start the labelled counters at zero, so that rate() and alerts see
	// every series from the first scrape.
	for _, k := range proxy.ErrorKinds() {
		m.upstreamErrors.WithLabelValues(string(k))
	}
	for _, d := range proxy.Directives() {
		m.directiveErrors.WithLabelValues(string(d))
	}
	for _, r := range proxy.RejectReasons() {
		m.rejected.WithLabelValues(r)
	}
	return m, nil
}

var _ proxy.Observer = (*Metrics)(nil)

// Request records one request served on the public listener.
func (m *Metrics) Request(method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	mi := methodIndex(method)
	if status >= 100 && status < 600 {
		row := m.counted[mi].Load()
		if row == nil {
			row = new(statusCounters)
			if !m.counted[mi].CompareAndSwap(nil, row) {
				row = m.counted[mi].Load() // another request made it first
			}
		}
		slot := &row[status-100]
		c := slot.Load()
		if c == nil {
			// Two requests may both get here: each wraps the same series.
			c = &counter{m.requests.WithLabelValues(strconv.Itoa(status), methods[mi])}
			slot.Store(c)
		}
		c.Inc()
	} else {
		m.requests.WithLabelValues(strconv.Itoa(status), methods[mi]).Inc()
	}
	m.requestDuration.Observe(d.Seconds())
}

// methodIndex returns the index in methods of method's label, which keeps
// the label to a fixed set: a client can send any token as a method.
func methodIndex(method string) int {
	for i, m := range methods[:len(methods)-1] {
		if method == m {
			return i
		}
	}
	return len(methods) - 1
}

// UpstreamError records a request the proxy answered with an error of the
// given kind.
func (m *Metrics) UpstreamError(kind proxy.ErrorKind) {
	if m == nil {
		return
	}
	m.upstreamErrors.WithLabelValues(string(kind)).Inc()
}

// DirectiveError records a malformed directive.
func (m *Metrics) DirectiveError(d proxy.Directive) {
	if m == nil {
		return
	}
	m.directiveErrors.WithLabelValues(string(d)).Inc()
}

// Rejected records a session cookie that gave no session, for one of
// proxy.RejectReasons. An empty reason records nothing.
func (m *Metrics) Rejected(reason string) {
	if m == nil || reason == "" {
		return
	}
	m.rejected.WithLabelValues(reason).Inc()
}

// Committed records what session.Manager.Commit did.
func (m *Metrics) Committed(o session.Outcome) {
	if m == nil {
		return
	}
	if o.Created {
		m.created.Inc()
	}
	if o.Destroyed {
		m.destroyed.Inc()
	}
	if o.Ended > 0 {
		m.destroyed.Add(float64(o.Ended))
	}
	if o.Renewed {
		m.renewed.Inc()
	}
	if o.Dropped {
		m.dropped.Inc()
	}
}

// A heldStore is a store in the proxy's own memory, which knows how many
// sessions it holds and how many it evicted (the memory store).
type heldStore interface {
	Len() int
	Evicted() uint64
}

// WatchStore exposes s, read at each scrape, as the gauge
// sessionproxy_store_sessions and the counter
// sessionproxy_store_evictions_total.
func (m *Metrics) WatchStore(s heldStore) error {
	if m == nil {
		return nil
	}
	if err := m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sessionproxy_store_sessions",
		Help: "Sessions held by the in-process session store.",
	}, func() float64 { return float64(s.Len()) })); err != nil {
		return err
	}
	return m.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sessionproxy_store_evictions_total",
		Help: "Sessions the in-process session store dropped before they expired, to stay within maxEntries and maxBytes.",
	}, func() float64 { return float64(s.Evicted()) }))
}
