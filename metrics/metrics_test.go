package metrics_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sessionproxy/sessionproxy/metrics"
	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

var update = flag.Bool("update", false, "rewrite testdata/families.golden")

// TestFamiliesGolden pins every family the proxy exposes: its name, type,
// help and label names. Dashboards and alerts depend on them; a change
// here is a change users see. Run with -update to accept one.
func TestFamiliesGolden(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchStore(session.NewMemoryStore(session.MemoryOptions{})); err != nil {
		t.Fatal(err)
	}
	// Give every vector a child, so that every family is gathered.
	m.Request("GET", 200, time.Millisecond)
	m.Store(fakeStore{}).Load(context.Background(), "id")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := make([]string, 0, len(labels))
		for l := range labels {
			names = append(names, l)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "%s %s {%s}\n  %s\n", mf.GetName(), mf.GetType(), strings.Join(names, ","), mf.GetHelp())
	}
	golden := filepath.Join("testdata", "families.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("metric families changed (go test ./metrics -update to accept):\n--- got\n%s--- want\n%s", got, want)
	}
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, "x"); err == nil {
		t.Fatal("registering the families twice succeeded")
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Request("GET", 200, time.Second)
	m.UpstreamError(proxy.ErrorTimeout)
	m.DirectiveError(proxy.DirectiveSet)
	m.Rejected(session.RejectTampered)
	m.Committed(session.Outcome{Created: true})
	s := fakeStore{}
	if got := m.Store(s); got != session.Store(s) {
		t.Errorf("nil Metrics wrapped the store: %T", got)
	}
}

func TestRecording(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "x")
	if err != nil {
		t.Fatal(err)
	}
	m.Request("GET", 200, time.Millisecond)
	m.Request("GET", 200, time.Millisecond) // the series is looked up once, then kept
	m.Request("POST", 200, time.Millisecond)
	m.Request("BREW", 418, time.Millisecond) // any token is a valid method
	m.Request("GET", 599, time.Millisecond)
	m.Request("GET", 999, time.Millisecond) // beyond the labels made up front
	m.Committed(session.Outcome{Saved: true, Created: true})
	m.Committed(session.Outcome{Saved: true, Renewed: true})
	m.Committed(session.Outcome{Destroyed: true})
	m.Rejected(session.RejectExpired)
	m.Rejected("")

	tests := []struct {
		name   string
		metric string
		want   string
	}{
		{"requests", "sessionproxy_http_requests_total", `
# HELP sessionproxy_http_requests_total Requests served on the public listener, by status code and method.
# TYPE sessionproxy_http_requests_total counter
sessionproxy_http_requests_total{code="200",method="GET"} 2
sessionproxy_http_requests_total{code="200",method="POST"} 1
sessionproxy_http_requests_total{code="418",method="other"} 1
sessionproxy_http_requests_total{code="599",method="GET"} 1
sessionproxy_http_requests_total{code="999",method="GET"} 1
`},
		{"sessions", "sessionproxy_sessions_created_total", `
# HELP sessionproxy_sessions_created_total New sessions saved for the first time.
# TYPE sessionproxy_sessions_created_total counter
sessionproxy_sessions_created_total 1
`},
		{"rejected", "sessionproxy_cookies_rejected_total", `
# HELP sessionproxy_cookies_rejected_total Session cookies that gave no session, by reason; the client got a fresh session.
# TYPE sessionproxy_cookies_rejected_total counter
sessionproxy_cookies_rejected_total{reason="absolute"} 0
sessionproxy_cookies_rejected_total{reason="expired"} 1
sessionproxy_cookies_rejected_total{reason="idle"} 0
sessionproxy_cookies_rejected_total{reason="malformed"} 0
sessionproxy_cookies_rejected_total{reason="tampered"} 0
sessionproxy_cookies_rejected_total{reason="unknown"} 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want), tt.metric); err != nil {
				t.Error(err)
			}
		})
	}
}

// fakeStore fails with errOutage for the id "down" and answers "missing"
// for everything else.
type fakeStore struct{}

var errOutage = errors.New("connection refused")

func (fakeStore) Load(_ context.Context, id string) ([]byte, bool, error) {
	if id == "down" {
		return nil, false, errOutage
	}
	return nil, false, nil
}
func (fakeStore) Save(_ context.Context, id string, _ []byte, _ time.Duration) error {
	if id == "down" {
		return errOutage
	}
	return nil
}
func (fakeStore) Delete(_ context.Context, id string) error {
	if id == "down" {
		return errOutage
	}
	return nil
}
func (fakeStore) Update(_ context.Context, id string, _ []byte, fn session.UpdateFunc) error {
	if id == "down" {
		return errOutage
	}
	_, _, err := fn(nil, false)
	return err
}

func TestStoreCountsOutagesOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "x")
	if err != nil {
		t.Fatal(err)
	}
	s := m.Store(fakeStore{})
	ctx := context.Background()
	errBadRecord := errors.New("bad record")

	if _, ok, err := s.Load(ctx, "missing"); ok || err != nil {
		t.Fatalf("Load(missing) = %v, %v; the decorator changed the answer", ok, err)
	}
	if _, _, err := s.Load(ctx, "down"); !errors.Is(err, errOutage) {
		t.Fatalf("Load(down) = %v, want the store's error", err)
	}
	_ = s.Save(ctx, "down", nil, time.Second)
	_ = s.Delete(ctx, "ok")
	err = s.Update(ctx, "ok", nil, func([]byte, bool) ([]byte, time.Duration, error) { return nil, 0, errBadRecord })
	if !errors.Is(err, errBadRecord) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	_ = s.Update(ctx, "down", nil, func([]byte, bool) ([]byte, time.Duration, error) { return nil, time.Second, nil })

	if got, want := storeCounts(t, reg, "sessionproxy_store_errors_total"), map[string]uint64{"load": 1, "save": 1, "delete": 0, "update": 1}; !maps.Equal(got, want) {
		t.Errorf("store errors per operation: %v, want %v", got, want)
	}
	// Each operation's duration is observed under its own label.
	if got, want := storeCounts(t, reg, "sessionproxy_store_operation_duration_seconds"), map[string]uint64{"load": 2, "save": 1, "delete": 1, "update": 2}; !maps.Equal(got, want) {
		t.Errorf("store durations observed per operation: %v, want %v", got, want)
	}
}

// storeCounts returns, per operation label, the value of the store
// counter family name or the sample count of the histogram family name.
func storeCounts(t *testing.T, reg *prometheus.Registry, name string) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			n := m.GetHistogram().GetSampleCount()
			if c := m.GetCounter(); c != nil {
				n = uint64(c.GetValue())
			}
			counts[m.GetLabel()[0].GetValue()] = n
		}
	}
	return counts
}

// A RevisionStore stays one through the decorator, so that the Manager
// still skips copying records it has parsed; its LoadRevision is timed as
// a load and its UpdateRevision as an update (fn's own error not counted
// as the store's), and their answers pass unchanged. A plain store does
// not become one.
func TestStoreKeepsRevisions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Store(fakeStore{}).(session.RevisionStore); ok {
		t.Error("a plain store became a RevisionStore")
	}
	mem := session.NewMemoryStore(session.MemoryOptions{})
	s, ok := m.Store(mem).(session.RevisionStore)
	if !ok {
		t.Fatal("the decorated MemoryStore is not a RevisionStore")
	}
	ctx := context.Background()
	if err := mem.Save(ctx, "id", []byte(`{"n":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	rec, rev, ok, err := s.LoadRevision(ctx, "id", 0)
	if err != nil || !ok || string(rec) != `{"n":1}` || rev == 0 {
		t.Fatalf("LoadRevision(id, 0) = %q, %d, %v, %v", rec, rev, ok, err)
	}
	if rec, again, ok, err := s.LoadRevision(ctx, "id", rev); err != nil || !ok || rec != nil || again != rev {
		t.Fatalf("LoadRevision(id, %d) = %q, %d, %v, %v; want no record, the same revision", rev, rec, again, ok, err)
	}
	written, err := s.UpdateRevision(ctx, "id", nil, func([]byte, bool) ([]byte, time.Duration, error) {
		return []byte(`{"n":2}`), time.Minute, nil
	})
	if err != nil || written == 0 || written == rev {
		t.Fatalf("UpdateRevision = %d, %v; want a new revision", written, err)
	}
	if rec, again, ok, err := s.LoadRevision(ctx, "id", written); err != nil || !ok || rec != nil || again != written {
		t.Fatalf("LoadRevision(id, %d) after the update = %q, %d, %v, %v; want the revision written", written, rec, again, ok, err)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateRevision(ctx, "id", nil, func([]byte, bool) ([]byte, time.Duration, error) {
		return nil, 0, refused
	}); !errors.Is(err, refused) {
		t.Fatalf("a refused UpdateRevision = %v, want fn's error", err)
	}
	if got, want := storeCounts(t, reg, "sessionproxy_store_operation_duration_seconds"), map[string]uint64{"load": 3, "save": 0, "delete": 0, "update": 2}; !maps.Equal(got, want) {
		t.Errorf("store operations observed: %v, want %v", got, want)
	}
	if got, want := storeCounts(t, reg, "sessionproxy_store_errors_total"), map[string]uint64{"load": 0, "save": 0, "delete": 0, "update": 0}; !maps.Equal(got, want) {
		t.Errorf("store errors: %v, want none (fn's refusal is not the store's)", got)
	}
}
