package metrics

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkRequest is recording one request: done once per request served.
func BenchmarkRequest(b *testing.B) {
	m, err := New(prometheus.NewRegistry(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Request(http.MethodGet, http.StatusOK, 1234*time.Microsecond)
	}
}
