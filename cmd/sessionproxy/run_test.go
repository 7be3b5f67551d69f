package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/proxy/admin"
)

func TestAdminHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sessionproxy_test_gauge", Help: "A test gauge."})
	reg.MustRegister(g)
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("dial tcp 10.0.0.1:6379: connection refused") }

	tests := []struct {
		name   string
		ready  func(context.Context) error
		path   string
		status int
		body   string // a substring of the body
	}{
		{"healthz", up, "/healthz", 200, "ok"},
		{"healthz while the store is down", down, "/healthz", 200, "ok"},
		{"readyz", up, "/readyz", 200, "ok"},
		{"readyz while the store is down", down, "/readyz", 503, "not ready"},
		{"metrics", up, "/metrics", 200, "# TYPE sessionproxy_test_gauge gauge"},
		{"anything else", up, "/", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			adminHandler(tt.ready, reg, false, admin.Options{}).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, rec.Code, body, tt.status, tt.body)
			}
			if strings.Contains(string(body), "10.0.0.1") {
				t.Errorf("GET %s shows the store's error: %q", tt.path, body)
			}
		})
	}
}

// TestRunCheck validates a config with -check and exits without serving.
func TestRunCheck(t *testing.T) {
	t.Setenv("SESSION_KEY", "a-session-key-of-at-least-32-characters")
	t.Setenv("UPSTREAM_SECRET", "an-upstream-secret-of-at-least-32-chars")
	var out strings.Builder
	err := run(context.Background(), []string{"-check", "-config", "../../config.example.yaml"}, &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), ": ok") {
		t.Fatalf("run -check config.example.yaml = %v, %q", err, out.String())
	}
}

var _ http.Handler = adminHandler(nil, prometheus.NewRegistry(), false, admin.Options{})

func TestAdminPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		rec := httptest.NewRecorder()
		adminHandler(func(context.Context) error { return nil }, prometheus.NewRegistry(), on, admin.Options{}).
			ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
		if got := rec.Code == http.StatusOK; got != on {
			t.Errorf("admin.pprof %v: /debug/pprof/ answered %d", on, rec.Code)
		}
	}
}
