package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"
)

// accessRecord is a record like the proxy's access-log line, with
// client-controlled strings in the path and method.
func accessRecord(t time.Time, method, path string, status int64, d time.Duration, n uint64, ok bool) slog.Record {
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("method", method),
		slog.String("path", path),
		slog.Int64("status", status),
		slog.Duration("duration", d),
		slog.Uint64("bytes", n),
		slog.Bool("ok", ok),
		slog.String("upstream", "127.0.0.1:8080"),
	)
	return r
}

// lines returns what lineHandler and slog.JSONHandler write for r.
func lines(t testing.TB, r slog.Record) (got, want []byte) {
	t.Helper()
	var fast, std bytes.Buffer
	if err := newLineHandler(&fast, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := slog.NewJSONHandler(&std, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return fast.Bytes(), std.Bytes()
}

func TestLineHandlerWritesWhatJSONHandlerWrites(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 890123000, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		r    slog.Record
	}{
		{"access line", accessRecord(now, "GET", "/a/b", 200, 1234567, 3, true)},
		{"escapes", accessRecord(now, "G\"E\\T", "/\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xfe", -1, -5, 0, false)},
		{"no time", accessRecord(time.Time{}, "GET", "/", 0, 0, 0, false)},
		{"other level and message", func() slog.Record {
			r := slog.NewRecord(now, slog.LevelWarn+2, "odd \"msg\"\n", 0)
			r.AddAttrs(slog.String("k", "v"))
			return r
		}()},
		{"no attributes", slog.NewRecord(now, slog.LevelError, "stopped", 0)},
		// Handed to the JSONHandler:
		{"group", func() slog.Record {
			r := slog.NewRecord(now, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Group("g", slog.Int("a", 1)), slog.String("s", "x"))
			return r
		}()},
		{"any and error", func() slog.Record {
			r := slog.NewRecord(now, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Any("err", context.Canceled), slog.Any("list", []string{"a"}), slog.Float64("f", 0.1), slog.Time("t", now))
			return r
		}()},
		{"empty key", func() slog.Record {
			r := slog.NewRecord(now, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Any("", nil), slog.String("", "v"))
			return r
		}()},
		{"year out of range", accessRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "GET", "/", 200, 0, 0, false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := lines(t, tc.r)
			if !bytes.Equal(got, want) {
				t.Errorf("lineHandler wrote\n%s\nslog.JSONHandler\n%s", got, want)
			}
		})
	}
}

func TestLineHandlerWithAttrsAndGroup(t *testing.T) {
	var fast, std bytes.Buffer
	slog.New(newLineHandler(&fast, nil)).With("a", 1).WithGroup("g").Info("m", "path", "/x")
	slog.New(slog.NewJSONHandler(&std, nil)).With("a", 1).WithGroup("g").Info("m", "path", "/x")
	if bytes.Equal(fast.Bytes(), std.Bytes()) {
		return
	}
	// The times differ; compare the rest.
	var f, s map[string]any
	if err := json.Unmarshal(fast.Bytes(), &f); err != nil {
		t.Fatalf("%s: %v", fast.Bytes(), err)
	}
	_ = json.Unmarshal(std.Bytes(), &s)
	delete(f, "time")
	delete(s, "time")
	fb, _ := json.Marshal(f)
	sb, _ := json.Marshal(s)
	if !bytes.Equal(fb, sb) {
		t.Errorf("lineHandler wrote %s; slog.JSONHandler %s", fast.Bytes(), std.Bytes())
	}
}

func TestLineHandlerLevel(t *testing.T) {
	var out bytes.Buffer
	l := slog.New(newLineHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l.Info("request", "path", "/")
	if out.Len() != 0 {
		t.Errorf("an info line got through level warn: %s", out.Bytes())
	}
	l.Warn("slow", "path", "/")
	if out.Len() == 0 {
		t.Error("a warning was dropped")
	}
}

// FuzzLineHandler holds lineHandler to slog.JSONHandler's bytes for any
// client-controlled strings, and its lines to valid JSON that decodes to
// the same strings.
func FuzzLineHandler(f *testing.F) {
	f.Add("GET", "/a", int64(200), int64(1000), uint64(3), int64(1700000000123456789))
	f.Add("\x00\"\\", "/\u2028\xff<>&\t", int64(-1), int64(-1), uint64(1<<63), int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, method, path string, status, d int64, n uint64, ns int64) {
		r := accessRecord(time.Unix(0, ns).UTC(), method, path, status, time.Duration(d), n, status%2 == 0)
		got, want := lines(t, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("lineHandler wrote\n%q\nslog.JSONHandler\n%q", got, want)
		}
		var line struct {
			Method, Path string
			Status       int64
			Bytes        uint64
		}
		if err := json.Unmarshal(got, &line); err != nil {
			t.Fatalf("%q is not JSON: %v", got, err)
		}
		// Invalid UTF-8 comes back as one U+FFFD per bad byte, as a
		// []rune conversion makes it.
		if line.Method != string([]rune(method)) || line.Path != string([]rune(path)) || line.Status != status || line.Bytes != n {
			t.Fatalf("%q decodes to %+v", got, line)
		}
	})
}

// BenchmarkAccessLine is one access-log line through each handler.
func BenchmarkAccessLine(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    slog.Handler
	}{
		{"JSONHandler", slog.NewJSONHandler(io.Discard, nil)},
		{"lineHandler", newLineHandler(io.Discard, nil)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := slog.New(tc.h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", "GET"), slog.String("path", "/write"),
					slog.Int("status", 200), slog.Duration("duration", 1234567), slog.Int64("bytes", 3),
					slog.String("upstream", "127.0.0.1:4444"), slog.String("remote", "127.0.0.1:55555"),
					slog.String("session", "abcdef12"))
			}
		})
	}
}
