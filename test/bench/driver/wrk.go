package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrk runs the load generator.
type wrk struct {
	threads, conns int
	cpu            string // taskset -c list; "" runs it unpinned
}

// result is what one wrk run measured.
type result struct {
	rps      float64 // requests per second
	p50, p99 float64 // latency percentiles, milliseconds
	errors   int     // non-2xx/3xx responses and socket errors
	cpu      float64 // the proxy's CPU microseconds per request (-cpu); 0 when not measured
	gc       float64 // of which its garbage collector's (-gc); 0 when not measured
	// bare is what a mode's ratios compare with: the mean of the bare
	// proxy's runs just before and just after it (neighbours).
	bare *result
}

// mean returns the mean of a and b's measures.
func mean(a, b result) result {
	return result{rps: (a.rps + b.rps) / 2, p50: (a.p50 + b.p50) / 2, p99: (a.p99 + b.p99) / 2,
		errors: a.errors + b.errors, cpu: (a.cpu + b.cpu) / 2, gc: (a.gc + b.gc) / 2}
}

// run drives url for d, with a Cookie header or a Lua script if given.
func (w wrk) run(ctx context.Context, d time.Duration, url, cookie, script string) (result, error) {
	args := []string{
		"-t" + strconv.Itoa(w.threads), "-c" + strconv.Itoa(w.conns),
		"-d" + strconv.Itoa(max(1, int(d.Round(time.Second).Seconds()))) + "s",
		"--latency", "--timeout", "5s",
	}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	if script != "" {
		args = append(args, "-s", script)
	}
	args = append(args, url)
	name := "wrk"
	if w.cpu != "" {
		args = append([]string{"-c", w.cpu, name}, args...)
		name = "taskset"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	return parseWrk(out.String())
}

// parseWrk reads wrk --latency's report.
func parseWrk(out string) (result, error) {
	var r result
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: requests/sec %q", f[1])
			}
			r.rps, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			ms, err := parseLatency(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.p50, have50 = ms, true
			} else {
				r.p99, have99 = ms, true
			}
		case len(f) == 5 && f[0] == "Non-2xx":
			n, _ := strconv.Atoi(f[4])
			r.errors += n
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(f); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[i], ","))
				r.errors += n
			}
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("wrk: no requests/sec or latency distribution in:\n%s", out)
	}
	return r, nil
}

// parseLatency converts wrk's "812.00us", "1.23ms", "2.00s" or "1.00m" to
// milliseconds.
func parseLatency(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				break
			}
			return f * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk: latency %q", s)
}
