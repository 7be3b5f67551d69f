package main

import (
	"fmt"
	"io"
	"slices"
)

// printTable prints the medians of every scenario and target as a
// Markdown table, with each mode's ratio to the bare proxy.
func printTable(w io.Writer, scens []scenario, targets []*target, results map[string]map[string][]result) {
	fmt.Fprintln(w, "| scenario | proxy | req/s | p50 ms | p99 ms | req/s vs bare | p99 vs bare | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range scens {
		bare := summarize(results[s.name]["bare"])
		for _, t := range targets {
			if t.unavailable != "" {
				fmt.Fprintf(w, "| %s | %s | unavailable | | | | | |\n", s.name, t.name)
				continue
			}
			m := summarize(results[s.name][t.name])
			fmt.Fprintf(w, "| %s | %s | %.0f | %.3f | %.3f | %.2fx | %.2fx | %d |\n",
				s.name, t.name, m.rps, m.p50, m.p99, m.rps/bare.rps, m.p99/bare.p99, m.errors)
		}
	}
	for _, t := range targets {
		if t.unavailable != "" {
			fmt.Fprintf(w, "\n%s unavailable: %s", t.name, t.unavailable)
		}
	}
	fmt.Fprintln(w)
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
