package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/config"
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
			adminHandler(tt.ready, reg, false).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
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

// TestRunCheckReadsTLSFiles: -check reads what a start would, so a TLS
// file that a start cannot read fails the check, naming the setting.
func TestRunCheckReadsTLSFiles(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	os.WriteFile(cfgFile, []byte("upstream: http://127.0.0.1:1\nkeys: [a-session-key-of-at-least-32-characters]\ntoken: {secret: an-upstream-secret-of-at-least-32-chars}\nserver: {tls: {certFile: "+missing+", keyFile: "+missing+"}}\n"), 0o600)
	var out strings.Builder
	err := run(context.Background(), []string{"-check", "-config", cfgFile}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "server.tls") || !strings.Contains(err.Error(), missing) {
		t.Errorf("-check with a missing TLS certificate = %v, %q; want an error naming server.tls and the file", err, out.String())
	}
}

// TestRunHelp: -help prints the usage and is no failure.
func TestRunHelp(t *testing.T) {
	var errOut strings.Builder
	if err := run(context.Background(), []string{"-help"}, io.Discard, &errOut); err != nil {
		t.Errorf("-help = %v, want nil", err)
	}
	if !strings.Contains(errOut.String(), "-config") {
		t.Errorf("-help printed %q, want the usage", errOut.String())
	}
}

var _ http.Handler = adminHandler(nil, prometheus.NewRegistry(), false)

func TestAdminPprofIsOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		rec := httptest.NewRecorder()
		adminHandler(func(context.Context) error { return nil }, prometheus.NewRegistry(), on).
			ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
		if got := rec.Code == http.StatusOK; got != on {
			t.Errorf("admin.pprof %v: /debug/pprof/ answered %d", on, rec.Code)
		}
	}
}

// Heap profiling is on only where admin.pprof serves the profile.
func TestSampleHeap(t *testing.T) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	for _, tc := range []struct {
		pprof bool
		want  int
	}{{true, 512 << 10}, {false, 0}} {
		runtime.MemProfileRate = 512 << 10
		sampleHeap(tc.pprof)
		if runtime.MemProfileRate != tc.want {
			t.Errorf("admin.pprof %v: MemProfileRate %d, want %d", tc.pprof, runtime.MemProfileRate, tc.want)
		}
	}
}

// TestRunGenkey prints a key that -check accepts as token.signingKeys.
func TestRunGenkey(t *testing.T) {
	for _, tc := range []struct{ kind, alg string }{{"ed25519", "EdDSA"}, {"p256", "ES256"}} {
		var key strings.Builder
		if err := run(context.Background(), []string{"-genkey", tc.kind}, &key, io.Discard); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		keyFile, cfgFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "c.yaml")
		os.WriteFile(keyFile, []byte(key.String()), 0o600)
		os.WriteFile(cfgFile, []byte("upstream: http://127.0.0.1:1\nkeys: [a-session-key-of-at-least-32-characters]\ntoken: {alg: "+tc.alg+", signingKeys: ["+keyFile+"]}\n"), 0o600)
		var out, errOut strings.Builder
		if err := run(context.Background(), []string{"-check", "-config", cfgFile}, &out, &errOut); err != nil {
			t.Errorf("-check with a -genkey %s key: %v", tc.kind, err)
		}
		// The other kind's alg names the mismatch.
		other := map[string]string{"EdDSA": "ES256", "ES256": "EdDSA"}[tc.alg]
		os.WriteFile(cfgFile, []byte("upstream: http://127.0.0.1:1\nkeys: [a-session-key-of-at-least-32-characters]\ntoken: {alg: "+other+", signingKeys: ["+keyFile+"]}\n"), 0o600)
		if err := run(context.Background(), []string{"-check", "-config", cfgFile}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "token.signingKeys[0]: "+keyFile) {
			t.Errorf("-check with a %s key for %s: %v", tc.kind, other, err)
		}
	}
	if err := run(context.Background(), []string{"-genkey", "rsa"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "ed25519 or p256") {
		t.Errorf("-genkey rsa: %v", err)
	}
}

// Only the memory store is trusted (session.Options.TrustStore): its
// records are this process's alone, and read without validation. A Redis
// store may be shared with other programs, whose records are validated.
func TestNewStoreTrustsOnlyMemory(t *testing.T) {
	for _, tt := range []struct {
		typ string
		own bool
	}{{"cookie", false}, {"memory", true}, {"redis", false}} {
		t.Run(tt.typ, func(t *testing.T) {
			cfg := config.Default()
			cfg.Store.Type = tt.typ
			cfg.Store.Redis.Addrs = []string{"127.0.0.1:1"} // nothing answers: newStore warns and goes on
			cfg.Store.Redis.Timeout = config.Duration(100 * time.Millisecond)
			st, err := newStore(t.Context(), cfg, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if st.close != nil {
				t.Cleanup(st.close)
			}
			if st.own != tt.own {
				t.Errorf("store.type %s: trusted %v, want %v", tt.typ, st.own, tt.own)
			}
		})
	}
}

// go-redis's lines are warnings, but for the Sentinel client's news.
func TestRedisLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(t.Context(), "sentinel: selected addr=%s masterAddr=%s", "127.0.0.1:26379", "127.0.0.1:6379")
	l.Printf(t.Context(), "sentinel: new master=%q addr=%q", "m", "127.0.0.1:6380")
	l.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "refused")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{`"level":"INFO"`, `"level":"INFO"`, `"level":"WARN"`}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %q, want %s", lines[i], w)
		}
	}
}
