package main

import (
	"fmt"
	"io"
	"slices"
)

// printTable prints the medians of every scenario and target as a
// Markdown table, with each mode's ratios to the bare proxy: the median
// over rounds of the ratio within each round (see paired). With CPU
// measurements (-cpu) it adds the proxy's CPU time per request and the
// ratio of bare's to the mode's, and the median of the mode's CPU time
// per request less bare's in the same round, in µs (what a ratio says of
// a proxy depends on bare's own cost, which moves with the host; this
// does much less); with the collector's (-gc), its CPU time per request.
func printTable(w io.Writer, scens []scenario, targets []*target, results map[string]map[string][]result) {
	withCPU, withGC := false, false
	for _, byTarget := range results {
		for _, rs := range byTarget {
			for _, r := range rs {
				withCPU, withGC = withCPU || r.cpu > 0, withGC || r.gc > 0
			}
		}
	}
	head, rule := "| scenario | proxy | req/s | p50 ms | p99 ms | req/s vs bare | p99 vs bare | errors |", "|---|---|---:|---:|---:|---:|---:|---:|"
	if withCPU {
		head, rule = head+" CPU µs/req | CPU vs bare | CPU vs bare, min–max | CPU µs over bare |", rule+"---:|---:|---:|---:|"
	}
	if withGC {
		head, rule = head+" GC µs/req |", rule+"---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	for _, s := range scens {
		for _, t := range targets {
			if t.unavailable != "" {
				fmt.Fprintf(w, "| %s | %s | unavailable | | | | | |\n", s.name, t.name)
				continue
			}
			rounds := results[s.name][t.name]
			m := summarize(rounds)
			fmt.Fprintf(w, "| %s | %s | %.0f | %.3f | %.3f | %.2fx | %.2fx | %d |",
				s.name, t.name, m.rps, m.p50, m.p99,
				paired(rounds, func(r, bare result) float64 { return r.rps / bare.rps }),
				paired(rounds, func(r, bare result) float64 { return r.p99 / bare.p99 }), m.errors)
			if withCPU {
				cpuRatio := func(r, bare result) float64 {
					if r.cpu <= 0 || bare.cpu <= 0 {
						return 0
					}
					return bare.cpu / r.cpu
				}
				lo, hi := pairedRange(rounds, cpuRatio)
				fmt.Fprintf(w, " %.1f | %.2fx | %.2f–%.2f | %.1f |", m.cpu, paired(rounds, cpuRatio), lo, hi, cpuOver(rounds))
			}
			if withGC {
				fmt.Fprintf(w, " %.2f |", m.gc)
			}
			fmt.Fprintln(w)
		}
	}
	for _, t := range targets {
		if t.unavailable != "" {
			fmt.Fprintf(w, "\n%s unavailable: %s", t.name, t.unavailable)
		}
	}
	fmt.Fprintln(w)
}

// paired returns the median over rounds of f(round's result, bare's
// result in that round), skipping rounds where f is 0: each round's pair
// ran under the same machine load, which moves both. The bare proxy's
// own rounds (no paired result) give 1.
func paired(rounds []result, f func(r, bare result) float64) float64 {
	v := pairedValues(rounds, f)
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

// pairedRange returns the least and the greatest of the rounds' paired
// values, the spread around paired's median.
func pairedRange(rounds []result, f func(r, bare result) float64) (lo, hi float64) {
	v := pairedValues(rounds, f)
	if len(v) == 0 {
		return 0, 0
	}
	return slices.Min(v), slices.Max(v)
}

// pairedValues returns f of each round's result and its bare result,
// without the zeros; 1 for the bare proxy's own rounds.
func pairedValues(rounds []result, f func(r, bare result) float64) []float64 {
	var v []float64
	for _, r := range rounds {
		if r.bare == nil {
			return []float64{1}
		}
		if x := f(r, *r.bare); x > 0 {
			v = append(v, x)
		}
	}
	return v
}

// cpuOver returns the median over rounds of the CPU per request of each
// round's result less its bare result's, in µs: 0 for the bare proxy's
// own rounds and without CPU measurements. Unlike paired, it keeps a
// round whose difference is 0 or less (a mode as cheap as bare).
func cpuOver(rounds []result) float64 {
	var v []float64
	for _, r := range rounds {
		if r.bare == nil {
			return 0
		}
		if r.cpu > 0 && r.bare.cpu > 0 {
			v = append(v, r.cpu-r.bare.cpu)
		}
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

// summarize returns the median of each measure over the rounds, and the
// total of errors.
func summarize(rs []result) result {
	var m result
	if len(rs) == 0 {
		return m
	}
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	m.rps = pick(func(r result) float64 { return r.rps })
	m.p50 = pick(func(r result) float64 { return r.p50 })
	m.p99 = pick(func(r result) float64 { return r.p99 })
	m.cpu = pick(func(r result) float64 { return r.cpu })
	m.gc = pick(func(r result) float64 { return r.gc })
	for _, r := range rs {
		m.errors += r.errors
	}
	return m
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
