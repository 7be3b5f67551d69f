package proxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sessionproxy/sessionproxy/metrics"
	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/session"
)

const testKey = "0123456789abcdef0123456789abcdef-test"

// newObservedProxy returns a proxy in front of upstream that logs to the
// returned buffer and records metrics on the returned registry.
func newObservedProxy(t *testing.T, upstream string) (*proxy.Proxy, *bytes.Buffer, *prometheus.Registry) {
	t.Helper()
	sessions, err := session.New(session.Options{Keys: []string{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	p, err := proxy.New(proxy.Options{
		Upstream:    u,
		Sessions:    sessions,
		TokenSecret: []byte(testKey),
		Logger:      log,
		AccessLog:   proxy.SlogAccessLog(log),
		Observer:    m,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs, reg
}

// accessLines returns the access-log lines in logs, decoded.
func accessLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func TestAccessLogNeverShowsTheSession(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Set", `{"user":"ann"}`)
		io.WriteString(w, "hello")
	}))
	defer up.Close()
	p, logs, _ := newObservedProxy(t, up.URL)

	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/set?token=secret-in-query", nil))
	cookie := rec.Result().Cookies()
	if len(cookie) != 1 {
		t.Fatalf("want one session cookie, got %v", rec.Header()["Set-Cookie"])
	}
	// The second request presents the cookie.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/again", nil)
	req.AddCookie(cookie[0])
	p.ServeHTTP(rec, req)

	lines := accessLines(t, logs)
	if len(lines) != 2 {
		t.Fatalf("want 2 access-log lines, got %d:\n%s", len(lines), logs)
	}
	first := lines[0]
	for key, want := range map[string]any{"method": "GET", "path": "/set", "status": float64(200), "bytes": float64(5), "upstream": strings.TrimPrefix(up.URL, "http://")} {
		if first[key] != want {
			t.Errorf("access log %s = %v, want %v", key, first[key], want)
		}
	}
	if _, ok := first["duration"]; !ok {
		t.Error("access log has no duration")
	}
	ref, _ := first["session"].(string)
	if len(ref) != 8 || lines[1]["session"] != ref {
		t.Errorf("session refs %v, %v: want the same 8-digit hash on both lines", first["session"], lines[1]["session"])
	}
	for _, secret := range []string{cookie[0].Value, "secret-in-query", testKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs)
		}
	}
}

func TestErrorsAreCountedByKind(t *testing.T) {
	closed := func() string { // an address nothing listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String()
	}()
	badDirective := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Destroy", "maybe")
	}))
	defer badDirective.Close()

	tests := []struct {
		name     string
		upstream string
		status   int
		kind     proxy.ErrorKind
	}{
		{"upstream down", closed, http.StatusBadGateway, proxy.ErrorConnect},
		{"malformed directive", badDirective.URL, http.StatusBadGateway, proxy.ErrorDirective},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs, reg := newObservedProxy(t, tt.upstream)
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			want := strings.NewReader(`
# HELP sessionproxy_http_requests_total Requests served on the public listener, by status code and method.
# TYPE sessionproxy_http_requests_total counter
sessionproxy_http_requests_total{code="502",method="GET"} 1
`)
			if err := testutil.GatherAndCompare(reg, want, "sessionproxy_http_requests_total"); err != nil {
				t.Error(err)
			}
			// Every kind's series, this one at 1 and the others at 0: a
			// missing family or series fails, as a changed count does.
			var errs strings.Builder
			errs.WriteString(`
# HELP sessionproxy_upstream_errors_total Requests the proxy answered itself with an error instead of the upstream's response, by kind.
# TYPE sessionproxy_upstream_errors_total counter
`)
			for _, kind := range proxy.ErrorKinds() {
				n := 0
				if kind == tt.kind {
					n = 1
				}
				fmt.Fprintf(&errs, "sessionproxy_upstream_errors_total{kind=%q} %d\n", kind, n)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(errs.String()), "sessionproxy_upstream_errors_total"); err != nil {
				t.Error(err)
			}
			if lines := accessLines(t, logs); len(lines) != 1 || lines[0]["status"] != float64(tt.status) {
				t.Errorf("access log %v, want one line with status %d", lines, tt.status)
			}
		})
	}
}

// SessionRef is the first 8 hex digits of the id's SHA-256, so that an
// operator holding an id can find its lines: for an id of any length,
// longer than the stack buffer it hashes from too.
func TestSessionRef(t *testing.T) {
	for _, id := range []string{"", "a", strings.Repeat("k", 43), strings.Repeat("x", 64), strings.Repeat("y", 65), strings.Repeat("z", 300)} {
		sum := sha256.Sum256([]byte(id))
		if got, want := proxy.SessionRef(id), hex.EncodeToString(sum[:4]); got != want {
			t.Errorf("SessionRef of a %d-byte id = %q, want %q", len(id), got, want)
		}
	}
}
