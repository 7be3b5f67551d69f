package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy"
)

// jsonAndSlogLines returns what JSONAccessLog writes for e, and what
// proxy.SlogAccessLog writes through slog.JSONHandler.
func jsonAndSlogLines(t testing.TB, e proxy.AccessEntry) (got, want []byte) {
	t.Helper()
	var fast, std bytes.Buffer
	proxy.JSONAccessLog(&fast).LogAccess(context.Background(), e)
	proxy.SlogAccessLog(slog.New(slog.NewJSONHandler(&std, nil))).LogAccess(context.Background(), e)
	return fast.Bytes(), std.Bytes()
}

func TestJSONAccessLogWritesWhatSlogWrites(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 890123000, time.FixedZone("X", 3600))
	entry := proxy.AccessEntry{Time: now, Method: "GET", Path: "/a/b", Status: 200, Duration: 1234567, Bytes: 3,
		Upstream: "127.0.0.1:8080", Remote: "127.0.0.1:55555", Session: "abcdef12"}
	tests := []struct {
		name   string
		change func(*proxy.AccessEntry)
	}{
		{"access line", func(*proxy.AccessEntry) {}},
		{"no session", func(e *proxy.AccessEntry) { e.Session = "" }},
		{"escapes", func(e *proxy.AccessEntry) {
			e.Method, e.Path = "G\"E\\T", "/\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xfe"
		}},
		{"client gone, nothing sent", func(e *proxy.AccessEntry) { e.Status, e.Bytes, e.Duration = 499, 0, 0 }},
		{"whole seconds in UTC", func(e *proxy.AccessEntry) { e.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := entry
			tc.change(&e)
			got, want := jsonAndSlogLines(t, e)
			if !bytes.Equal(got, want) {
				t.Errorf("jsonAccessLog wrote\n%s\nslog.JSONHandler\n%s", got, want)
			}
		})
	}
}

// FuzzJSONAccessLog holds JSONAccessLog to slog.JSONHandler's bytes for
// any client-controlled strings, and its lines to valid JSON that decodes
// to the same strings.
func FuzzJSONAccessLog(f *testing.F) {
	f.Add("GET", "/a", 200, int64(1000), int64(3), "127.0.0.1:1", int64(1700000000123456789))
	f.Add("\x00\"\\", "/\u2028\xff<>&\t", -1, int64(-1), int64(1<<62), "[::1]:2", int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, method, path string, status int, d, n int64, remote string, ns int64) {
		e := proxy.AccessEntry{Time: time.Unix(0, ns).UTC(), Method: method, Path: path, Status: status,
			Duration: time.Duration(d), Bytes: n, Upstream: "app:8080", Remote: remote, Session: "0123abcd"}
		got, want := jsonAndSlogLines(t, e)
		if !bytes.Equal(got, want) {
			t.Fatalf("jsonAccessLog wrote\n%q\nslog.JSONHandler\n%q", got, want)
		}
		var line struct {
			Method, Path, Remote string
			Status               int
			Bytes                int64
		}
		if err := json.Unmarshal(got, &line); err != nil {
			t.Fatalf("%q is not JSON: %v", got, err)
		}
		// Invalid UTF-8 comes back as one U+FFFD per bad byte, as a
		// []rune conversion makes it.
		if line.Method != string([]rune(method)) || line.Path != string([]rune(path)) || line.Remote != string([]rune(remote)) ||
			line.Status != status || line.Bytes != n {
			t.Fatalf("%q decodes to %+v", got, line)
		}
	})
}

// BenchmarkAccessLine is one access-log line each way.
func BenchmarkAccessLine(b *testing.B) {
	e := proxy.AccessEntry{Time: time.Now(), Method: "GET", Path: "/write", Status: 200, Duration: 1234567, Bytes: 3,
		Upstream: "127.0.0.1:4444", Remote: "127.0.0.1:55555", Session: "abcdef12"}
	for _, tc := range []struct {
		name string
		l    proxy.AccessLogger
	}{
		{"slog.JSONHandler", proxy.SlogAccessLog(slog.New(slog.NewJSONHandler(io.Discard, nil)))},
		{"jsonAccessLog", proxy.JSONAccessLog(io.Discard)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				tc.l.LogAccess(ctx, e)
			}
		})
	}
}
