package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a config reload, the values of the reloads family's result
// label.
const (
	ReloadOK    = "ok"
	ReloadError = "error"
)

// reloadMetrics count config reloads (SIGHUP).
type reloadMetrics struct {
	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func (r *reloadMetrics) register(reg prometheus.Registerer) error {
	r.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionproxy_config_reloads_total",
		Help: "Config reloads (SIGHUP), by result: ok (in effect for new requests) or error (nothing changed).",
	}, []string{"result"})
	r.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sessionproxy_config_last_reload_success_timestamp_seconds",
		Help: "When the config in effect was loaded (at start-up or by the last successful reload), in Unix seconds.",
	})
	for _, c := range []prometheus.Collector{r.reloads, r.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	r.reloads.WithLabelValues(ReloadOK)
	r.reloads.WithLabelValues(ReloadError)
	return nil
}

// ConfigLoaded records the config loaded at start-up, at time at.
func (m *Metrics) ConfigLoaded(at time.Time) {
	if m == nil {
		return
	}
	m.reload.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
}

// Reloaded records a config reload at time at: ok, or failed (nothing
// changed).
func (m *Metrics) Reloaded(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if !ok {
		m.reload.reloads.WithLabelValues(ReloadError).Inc()
		return
	}
	m.reload.reloads.WithLabelValues(ReloadOK).Inc()
	m.reload.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
}
