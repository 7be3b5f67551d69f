package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// round is a round line as run prints it with -cpu (and -gc, whose
// "gc X µs/req" must not be taken for the CPU per request).
func round(n int, scenario, target string, cpu float64) string {
	return fmt.Sprintf("bench: round %d %-9s %-6s %8.0f req/s p50 0.578ms p99 2.210ms errors 0 %.1fµs/req cpu0 97%% cpu1 91%% bare 102%% upstream 56%% gc 9.99µs/req in 169 cycles\n",
		n, scenario, target, 20000.0, cpu)
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
	want := map[cell][]float64{
		{"read", "secure"}:  {50.0 / 50, 40.0 / 40},
		{"read", "koa"}:     {55.0 / 55, 44.0 / 48},
		{"write", "secure"}: {30.0 / 60},
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
			if math.Abs(got[i]-w[i]) > 1e-9 {
				t.Errorf("%v round %d: %.4f, want %.4f", c, i+1, got[i], w[i])
			}
		}
	}
	if _, ok := ratios[cell{"read", "bare"}]; ok {
		t.Error("bare paired with itself")
	}
}

func TestRunRatiosWithoutCPU(t *testing.T) {
	log := "bench: round 1 read      bare      22937 req/s p50 0.588ms p99 2.020ms errors 0\n"
	if _, _, err := runRatios(strings.NewReader(log)); err == nil || !strings.Contains(err.Error(), "-cpu") {
		t.Errorf("err = %v, want one naming -cpu", err)
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
	// run's median is its own, the pooled one is over the four rounds.
	a := write("a.err", 40, 50, 80)
	b := write("b.err", 100)
	var out strings.Builder
	if err := pool(&out, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	if want := "| read | secure | 2 | 4 | 0.650 | 0.40–0.80 | 0.80, 0.40 |"; !strings.Contains(out.String(), want) {
		t.Errorf("pool printed\n%s\nwant a row %s", out.String(), want)
	}
	if err := pool(&out, []string{filepath.Join(dir, "missing.err")}); err == nil {
		t.Error("a missing file: no error")
	}
}
