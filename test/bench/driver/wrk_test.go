package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

const wrkReport = `Running 3s test @ http://127.0.0.1:40000/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  512.31us   9.87ms   80.12%
    Req/Sec     8.01k   301.22     8.60k    70.00%
  Latency Distribution
     50%  912.00us
     75%    1.20ms
     90%    1.60ms
     99%    2.50ms
  47830 requests in 3.00s, 5.20MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  15943.21
Transfer/sec:      1.73MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	want := result{rps: 15943.21, p50: 0.912, p99: 2.5, errors: 7}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk of a failed run: no error")
	}
}

func TestParseLatency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"812.00us", 0.812},
		{"1.23ms", 1.23},
		{"2.00s", 2000},
		{"1.00m", 60000},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseLatency(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("parseLatency(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median even = %v, want 2.5", got)
	}
}

func TestPinTo(t *testing.T) {
	for _, tc := range []struct {
		list  string
		proxy string
		load  string
	}{
		{"0-1", "0", "1"},
		{"2,3", "2", "3"},
		{"0-3", "0", "1,2,3"},
		{"1,4-5", "1", "4,5"},
		{"0", "", ""}, // one CPU: no pinning
	} {
		t.Run(tc.list, func(t *testing.T) {
			allowed, err := parseCPUList(tc.list)
			if err != nil {
				t.Fatal(err)
			}
			if got := pinTo(allowed); got != (cpus{tc.proxy, tc.load}) {
				t.Errorf("pinTo(%v) = %+v, want proxy %q load %q", allowed, got, tc.proxy, tc.load)
			}
		})
	}
	for _, bad := range []string{"", "a", "3-1", "1-"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q): no error", bad)
		}
	}
}

func TestProcTicksCountsBusyWork(t *testing.T) {
	before, err := procTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) { // burn CPU: user time must grow
	}
	after, err := procTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("procTicks: %d after 300ms of busy work, %d before; want more", after, before)
	}
	if _, err := procTicks(-1); err == nil {
		t.Error("procTicks(-1): want an error")
	}
}

// Every ratio pairs rounds: a round where the machine was slow for both
// proxies must not count as a slow sessionproxy.
func TestTablePairsRounds(t *testing.T) {
	scens := []scenario{{name: "read"}}
	targets := []*target{{name: "bare"}, {name: "secure"}}
	rounds := func(bare []result, rps []float64, cpu ...float64) []result {
		var rs []result
		for i, x := range rps {
			r := result{rps: x, p50: 1, p99: 2}
			if cpu != nil {
				r.cpu = cpu[i]
			}
			if bare != nil {
				r.bare = &bare[i]
			}
			rs = append(rs, r)
		}
		return rs
	}
	cases := []struct {
		name     string
		bare     []result
		rps      []float64
		cpu      []float64
		wantHead bool
		wantRows []string
	}{
		// Paired: 0.9, 0.5 and 0.9 (the ratio of the medians would be 0.5);
		// CPU 50/60, 60/80 and 100/100: 10, 20 and 0 µs over bare.
		{"paired rounds", rounds(nil, []float64{100, 200, 300}, 50, 60, 100), []float64{90, 100, 270}, []float64{60, 80, 100}, true, []string{
			"| read | bare | 200 | 1.000 | 2.000 | 1.00x | 1.00x | 0 | 60.0 | 1.00x | 1.00–1.00 | 0.0 |",
			"| read | secure | 100 | 1.000 | 2.000 | 0.90x | 1.00x | 0 | 80.0 | 0.83x | 0.75–1.00 | 10.0 |",
		}},
		// A mode cheaper than bare in a round: its difference counts, below 0.
		{"cheaper than bare", rounds(nil, []float64{100, 100, 100}, 50, 50, 50), []float64{100, 100, 100}, []float64{45, 52, 49}, true, []string{
			"| read | secure | 100 | 1.000 | 2.000 | 1.00x | 1.00x | 0 | 49.0 | 1.02x | 0.96–1.11 | -1.0 |",
		}},
		{"no -cpu", rounds(nil, []float64{100, 100}), []float64{90, 90}, nil, false, []string{
			"| read | secure | 90 | 1.000 | 2.000 | 0.90x | 1.00x | 0 |\n",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			secure := rounds(tc.bare, tc.rps, tc.cpu...)
			printTable(&b, scens, targets, map[string]map[string][]result{"read": {"bare": tc.bare, "secure": secure}})
			out := b.String()
			if got := strings.Contains(out, "CPU vs bare"); got != tc.wantHead {
				t.Errorf("CPU columns in the header: %v, want %v\n%s", got, tc.wantHead, out)
			}
			for _, row := range tc.wantRows {
				if !strings.Contains(out, row) {
					t.Errorf("table lacks row %q:\n%s", row, out)
				}
			}
		})
	}
}

// Every mode runs once a round between two bare runs that send its own
// requests, the modes taking turns to go first, and is compared with the
// mean of those two.
func TestRunOrder(t *testing.T) {
	bare := &target{name: "bare", proc: "bare"}
	a := &target{name: "a", cookie: map[sessionKind]string{}, script: map[string]string{"mix": "a.lua"}}
	b := &target{name: "b", cookie: map[sessionKind]string{}, script: map[string]string{"mix": "b.lua"}}
	names := func(ts []*target) string {
		var n []string
		for _, t := range ts {
			n = append(n, t.name+"("+t.script["mix"]+")")
		}
		return strings.Join(n, " ")
	}
	for round, want := range []string{
		"bare(a.lua) a(a.lua) bare(a.lua) bare(b.lua) b(b.lua) bare(b.lua)",
		"bare(b.lua) b(b.lua) bare(b.lua) bare(a.lua) a(a.lua) bare(a.lua)",
		"bare(a.lua) a(a.lua) bare(a.lua) bare(b.lua) b(b.lua) bare(b.lua)",
	} {
		order := runOrder(bare, []*target{a, b}, round)
		if got := names(order); got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
		for _, o := range order {
			if o.name == "bare" && o.proc != "bare" {
				t.Errorf("round %d: a bare run is not the bare proxy's: %+v", round, o)
			}
		}
	}
	if bare.script != nil {
		t.Errorf("runOrder changed bare itself: %+v", bare)
	}
	done := []result{{rps: 100}, {rps: 80}, {rps: 200}, {rps: 300}, {rps: 150}, {rps: 400}}
	got := neighbours(done)
	if len(got) != 2 || got[0].rps != 150 || got[1].rps != 350 {
		t.Errorf("neighbours = %+v; want the means 150 (around a) and 350 (around b)", got)
	}
}
