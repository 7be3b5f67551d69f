package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Lines as the runtime writes them (go1.26, from the load benchmark's
// logs), and what shares the log with them.
const (
	gcBare   = "gc 596 @31.295s 0%: 0.035+0.79+0.004 ms clock, 0.035+0.34/0.19/0+0.004 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 1 P\n"
	gcSecure = "gc 312 @15.310s 1%: 0.047+1.5+0.004 ms clock, 0.047+0.57/0.42/0+0.004 ms cpu, 6->6->3 MB, 6 MB goal, 0 MB stacks, 0 MB globals, 1 P\n"
	gcForced = "gc 7 @0.120s 2%: 0.010+0.50+0.002 ms clock, 0.010+0.10/0.20/0.30+0.002 ms cpu, 1->1->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 1 P (forced)\n"
	access   = `{"time":"2026-12-03T06:52:51.307353017Z","level":"INFO","msg":"request","method":"GET","path":"/","status":200,"duration":584732,"bytes":3}` + "\n"
)

func TestParseGCTrace(t *testing.T) {
	cases := []struct {
		name   string
		log    string
		cycles int
		cpuMs  float64
	}{
		{"one cycle", gcBare, 1, 0.035 + 0.34 + 0.19 + 0 + 0.004},
		{"among access lines", access + gcSecure + access + gcBare + access, 2, 1.041 + 0.569},
		{"forced", gcForced, 1, 0.612},
		{"no cycle", access + access, 0, 0},
		// An access-log write inside a line: that cycle is missed, the
		// others are not.
		{"a line cut", gcBare[:40] + access + gcBare[40:] + gcSecure, 1, 1.041},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := parseGCTrace([]byte(tc.log))
			if w.cycles != tc.cycles || math.Abs(w.cpuMs-tc.cpuMs) > 1e-9 {
				t.Errorf("parseGCTrace = %d cycles, %.4f ms; want %d, %.4f", w.cycles, w.cpuMs, tc.cycles, tc.cpuMs)
			}
		})
	}
}

// Each run reads its own lines: from where the log ended before it.
func TestReadGCTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.log")
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(gcForced) // before the run
	from, err := logSize(path)
	if err != nil {
		t.Fatal(err)
	}
	write(gcBare + access + gcSecure[:30]) // the run, which ends mid-line, before the CPU times
	if w, err := readGCTrace(path, from); err != nil || w.cycles != 1 || math.Abs(w.cpuMs-0.569) > 1e-9 {
		t.Errorf("the run: %+v, %v; want 1 cycle of 0.569 ms", w, err)
	}
	write(gcSecure[30:])
	from, _ = logSize(path)
	if w, err := readGCTrace(path, from); err != nil || w.cycles != 0 {
		t.Errorf("a run with no new line: %+v, %v", w, err)
	}
	if _, err := readGCTrace(filepath.Join(t.TempDir(), "none.log"), 0); err == nil {
		t.Error("a missing log: no error")
	}
}

func TestWithGCTrace(t *testing.T) {
	cases := []struct{ env, want []string }{
		{nil, []string{"GODEBUG=gctrace=1"}},
		{[]string{"GOGC=400"}, []string{"GOGC=400", "GODEBUG=gctrace=1"}},
		{[]string{"GODEBUG=madvdontneed=1", "GOGC=50"}, []string{"GODEBUG=madvdontneed=1,gctrace=1", "GOGC=50"}},
	}
	for _, tc := range cases {
		if got := withGCTrace(tc.env); !slices.Equal(got, tc.want) {
			t.Errorf("withGCTrace(%q) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestTableShowsGC(t *testing.T) {
	bare := []result{{rps: 100, cpu: 40, gc: 1}, {rps: 100, cpu: 40, gc: 1.2}, {rps: 100, cpu: 40, gc: 1.4}}
	secure := []result{{rps: 90, cpu: 50, gc: 3}, {rps: 90, cpu: 50, gc: 2.5}, {rps: 90, cpu: 50, gc: 9}}
	for i := range secure {
		secure[i].bare = &bare[i]
	}
	var b strings.Builder
	printTable(&b, []scenario{{name: "read"}}, []*target{{name: "bare"}, {name: "secure"}},
		map[string]map[string][]result{"read": {"bare": bare, "secure": secure}})
	out := b.String()
	for _, want := range []string{"| GC µs/req |", "| 1.00–1.00 | 0.0 | 1.20 |\n", "| 0.80–0.80 | 10.0 | 3.00 |\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
