package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"time"
)

// With -pprof DIR, each sessionproxy run also takes a CPU profile of the
// proxy from its admin listener (admin.pprof), into DIR as
// ROUND-SCENARIO-MODE.pprof: where the proxy's own time goes under load,
// for go tool pprof (which merges several), or as a profile to build
// with (docs/performance.md, "Built with a profile").

// profiling is one CPU profile being taken.
type profiling struct {
	done chan error
}

// startProfile asks the proxy whose admin listener is admin for a CPU
// profile of the next d (in whole seconds, at least one), written to file.
func startProfile(ctx context.Context, admin string, d time.Duration, file string) *profiling {
	p := &profiling{done: make(chan error, 1)}
	seconds := max(1, int(math.Ceil(d.Seconds())))
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, seconds)
	go func() { p.done <- fetchProfile(ctx, url, file) }()
	return p
}

// wait returns when the profile is written, with what went wrong.
func (p *profiling) wait() error { return <-p.done }

func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("CPU profile: GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("CPU profile: %w", err)
	}
	return f.Close()
}
