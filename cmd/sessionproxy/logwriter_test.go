package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/config"
)

// syncBuffer is a bytes.Buffer safe for the flusher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogWriterBuffersInfoButNotErrors(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, time.Hour) // no periodic flush during the test
	log := newLogger(config.Log{Format: "json", Level: "info"}, lw)

	log.Info("request", "path", "/a")
	if out.String() != "" {
		t.Fatalf("an info line was written at once: %q", out.String())
	}
	log.Error("request failed", "path", "/b")
	if got := out.String(); !strings.Contains(got, `"path":"/a"`) || !strings.Contains(got, `"path":"/b"`) {
		t.Fatalf("after an error, the log holds %q; want both lines, in order", got)
	}
	log.With("k", "v").Info("request", "path", "/c")
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"path":"/c"`) {
		t.Errorf("Close did not write out the buffered line: %q", out.String())
	}
}

func TestLogWriterFlushesPeriodically(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, 10*time.Millisecond)
	defer lw.Close()
	slog.New(slog.NewTextHandler(lw, nil)).Info("request")
	for deadline := time.Now().Add(5 * time.Second); out.String() == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was never written")
		}
	}
}
