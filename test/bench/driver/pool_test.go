package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// round is the line run prints for a round with -cpu and -gc, cpu µs of
// the target's CPU per request (whose "gc X µs/req" must not be taken
// for it).
func round(n int, scenario, target string, cpu float64) string {
	const requests = 100000
	before := cpuSample{procs: map[string]uint64{target: 1000}, cores: map[string][2]uint64{"0": {0, 0}}}
	after := cpuSample{procs: map[string]uint64{target: 1000 + uint64(cpu*requests/1e6*clockTicks+0.5)}, cores: map[string][2]uint64{"0": {970, 1000}}}
	extra := " " + cpuReport(before, after, target, requests) + " gc 9.99µs/req in 169 cycles"
	return roundText(n, scenario, target, result{rps: 20000, p50: 0.578, p99: 2.21}, extra) + "\n"
}

func TestRunRatios(t *testing.T) {
	log := "bench: building\nbench: 2 modes and bare x 1 scenarios x 2 rounds x 2s, about 1m\n" +
		round(1, "read", "bare", 40) + round(1, "read", "secure", 50) + round(1, "read", "bare", 60) +
		round(1, "read", "koa", 55) + round(1, "read", "bare", 50) +
		"bench: perf  1 read secure writes\n" + // other lines are skipped
		round(2, "read", "bare", 44) + round(2, "read", "koa", 48) + round(2, "read", "bare", 44) +
		round(2, "read", "secure", 40) + round(2, "read", "bare", 36) +
		round(1, "write", "bare", 30) + round(1, "write", "secure", 60) // cut short: one bare beside it
	ratios, order, err := runRatios(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := map[cell][]pooledRound{
		{"read", "secure"}:  {{50.0 / 50, 0}, {40.0 / 40, 0}},
		{"read", "koa"}:     {{55.0 / 55, 0}, {44.0 / 48, 4}},
		{"write", "secure"}: {{30.0 / 60, 30}},
	}
	if got, w := fmt.Sprint(order), "[{read secure} {read koa} {write secure}]"; got != w {
		t.Errorf("order = %s, want %s", got, w)
	}
	for c, w := range want {
		got := ratios[c]
		if len(got) != len(w) {
			t.Fatalf("%v: %v, want %v", c, got, w)
		}
		for i := range w {
			if math.Abs(got[i].ratio-w[i].ratio) > 1e-9 || math.Abs(got[i].over-w[i].over) > 0.01 {
				t.Errorf("%v round %d: %.4f, %.2f µs over, want %.4f, %.2f", c, i+1, got[i].ratio, got[i].over, w[i].ratio, w[i].over)
			}
		}
	}
	if _, ok := ratios[cell{"read", "bare"}]; ok {
		t.Error("bare paired with itself")
	}
}

func TestRunRatiosWithoutCPU(t *testing.T) {
	for _, extra := range []string{"", " gc 1.02µs/req in 169 cycles"} { // no flag; -gc alone
		log := roundText(1, "read", "bare", result{rps: 22937}, extra) + "\n"
		if _, _, err := runRatios(strings.NewReader(log)); err == nil || !strings.Contains(err.Error(), "-cpu") {
			t.Errorf("%q: err = %v, want one naming -cpu", extra, err)
		}
	}
}

func TestRunRatiosLeavesOutAFailedRound(t *testing.T) {
	// With -cpu, a round that counted no requests has no CPU figure: its
	// mode's round is left out, and the run's other rounds stay.
	noRequests := roundText(1, "read", "secure", result{}, " cpu0 3%") + "\n"
	log := round(1, "read", "bare", 40) + noRequests + round(1, "read", "bare", 40) +
		round(2, "read", "bare", 40) + round(2, "read", "secure", 50) + round(2, "read", "bare", 40)
	ratios, _, err := runRatios(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if got := ratios[cell{"read", "secure"}]; len(got) != 1 || math.Abs(got[0].ratio-0.8) > 1e-9 {
		t.Errorf("ratios = %v, want one of 0.8", got)
	}
}

func TestPool(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, modeCPU ...float64) string {
		var b strings.Builder
		for i, cpu := range modeCPU {
			b.WriteString(round(i+1, "read", "bare", 40) + round(i+1, "read", "secure", cpu) + round(i+1, "read", "bare", 40))
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Ratios 1.00, 0.80, 0.50 in one run and 0.40 in the other: each
	// run's median is its own, the pooled one is over the four rounds;
	// so is the CPU over bare's (0, 10, 40 and 60 µs).
	a := write("a.err", 40, 50, 80)
	b := write("b.err", 100)
	var out strings.Builder
	if err := pool(&out, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	if want := "| read | secure | 2 | 4 | 0.650 | 0.40–0.80 | 0.80, 0.40 | 25.0 |"; !strings.Contains(out.String(), want) {
		t.Errorf("pool printed\n%s\nwant a row %s", out.String(), want)
	}
	if err := pool(&out, []string{filepath.Join(dir, "missing.err")}); err == nil {
		t.Error("a missing file: no error")
	}
}
