package metrics

import (
	"net/http"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// What the metrics hold from the proxy's start is small, and a method's
// table of counters is made on its first request: the garbage collector
// marks memory held from the start again in every cycle, which under
// load costs CPU per request (docs/performance-log.md, "Runs at 5620ce5
// and db3880e").
func TestMetricsHoldLittleUntilUsed(t *testing.T) {
	if n := unsafe.Sizeof(Metrics{}); n > 1024 {
		t.Errorf("a Metrics is %d bytes; want its per-request tables made on first use, not up front", n)
	}
	m, err := New(prometheus.NewRegistry(), "x")
	if err != nil {
		t.Fatal(err)
	}
	m.Request(http.MethodGet, http.StatusOK, time.Millisecond)
	m.Request(http.MethodGet, http.StatusNotFound, time.Millisecond)
	for i := range m.counted {
		if made, want := m.counted[i].Load() != nil, methods[i] == http.MethodGet; made != want {
			t.Errorf("method %s: counters made %v; want %v after GET requests only", methods[i], made, want)
		}
	}
}
