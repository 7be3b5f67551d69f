package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/config"
	"github.com/sessionproxy/sessionproxy/internal/testenv"
)

func TestLogWriterBuffersInfoButNotErrors(t *testing.T) {
	var out testenv.Buffer
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
	var out testenv.Buffer
	lw := newLogWriter(&out, 10*time.Millisecond)
	defer lw.Close()
	slog.New(slog.NewTextHandler(lw, nil)).Info("request")
	for deadline := time.Now().Add(5 * time.Second); out.String() == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was never written")
		}
	}
}
