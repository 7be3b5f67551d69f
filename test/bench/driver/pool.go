package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// With -pool, the driver runs nothing: it reads what earlier runs (with
// -cpu) wrote to stderr, pairs each mode's round with the bare rounds
// beside it as a run does, and prints each scenario's and mode's CPU
// ratio to bare over all the runs' rounds pooled. On a shared VM a round's
// ratio spreads by about 0.06 with the host, so one run's median of 7
// rounds is good to about ±0.03; several runs of the same code, pooled,
// say more (docs/performance-log.md, "The request path of c0bbd61, in
// 35 rounds").

// roundLine matches a run's line for one round of one target
// (roundText): round, scenario, target, and what -cpu and -gc added,
// which with -cpu begins with the CPU µs per request (cpuReport).
var roundLine = regexp.MustCompile(`^bench: round (\d+) (\S+)\s+(\S+)\s.* errors \d+(.*)$`)

// cpuFigure is the CPU µs per request at the start of roundLine's last
// part.
var cpuFigure = regexp.MustCompile(`^ ([0-9.]+)µs/req`)

// cell is one scenario's mode: the key of the pooled table.
type cell struct{ scenario, mode string }

// pooledRound is one mode's round against bare's CPU per request beside it
// (the mean of the bare rounds just before and after it).
type pooledRound struct {
	ratio float64 // bare's CPU per request over the mode's
	over  float64 // the mode's CPU per request less bare's, in µs
}

// runRatios returns each mode's rounds in one run's stderr, paired with
// bare's beside them. It returns the cells in the order the run first
// printed them. A round line without -cpu's figures is an error; one with
// them but without CPU per request (no requests were counted) is left
// out.
func runRatios(r io.Reader) (map[cell][]pooledRound, []cell, error) {
	type line struct {
		round  string
		c      cell
		cpu    float64
		isBare bool
	}
	var lines []line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if !strings.HasPrefix(text, "bench: round ") {
			continue
		}
		m := roundLine.FindStringSubmatch(text)
		if m == nil {
			return nil, nil, fmt.Errorf("line %d is not a round's: %q", n, text)
		}
		f := cpuFigure.FindStringSubmatch(m[4])
		if f == nil {
			if !strings.Contains(m[4], " cpu") { // cpuReport's cores
				return nil, nil, fmt.Errorf("line %d has no CPU per request (was the run made with -cpu?): %q", n, text)
			}
			continue // -cpu, but no requests were counted: a failed round, left out
		}
		cpu, err := strconv.ParseFloat(f[1], 64)
		if err != nil || cpu <= 0 {
			return nil, nil, fmt.Errorf("line %d: CPU per request %q", n, f[1])
		}
		lines = append(lines, line{round: m[1], c: cell{m[2], m[3]}, cpu: cpu, isBare: m[3] == "bare"})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	ratios := map[cell][]pooledRound{}
	var order []cell
	for i, l := range lines {
		if l.isBare {
			continue
		}
		var sum float64
		var bare int
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(lines) && lines[j].isBare && lines[j].round == l.round && lines[j].c.scenario == l.c.scenario {
				sum += lines[j].cpu
				bare++
			}
		}
		if bare == 0 {
			continue // a run cut short after this mode's round
		}
		if _, seen := ratios[l.c]; !seen {
			order = append(order, l.c)
		}
		mean := sum / float64(bare)
		ratios[l.c] = append(ratios[l.c], pooledRound{ratio: mean / l.cpu, over: l.cpu - mean})
	}
	return ratios, order, nil
}

// pool prints, for each scenario and mode in the runs whose stderr is in
// files, its CPU ratio to bare pooled over every round of every run: the
// median, the middle half of the rounds (nearest-rank quartiles), and
// each run's own median, in the order of files; and the median of its
// CPU per request over bare's, in µs.
func pool(w io.Writer, files []string) error {
	all := map[cell][]pooledRound{}
	perRun := map[cell][]string{}
	var order []cell
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		ratios, cells, err := runRatios(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, c := range cells {
			if _, seen := all[c]; !seen {
				order = append(order, c)
			}
			all[c] = append(all[c], ratios[c]...)
			perRun[c] = append(perRun[c], fmt.Sprintf("%.2f", median(ratiosOf(ratios[c]))))
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no rounds in %s", strings.Join(files, ", "))
	}
	fmt.Fprintf(w, "CPU vs bare, the rounds of every run given pooled (%d files)\n\n", len(files))
	fmt.Fprintln(w, "| scenario | proxy | runs | rounds | median | middle half | each run's median | µs over bare |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---|---:|")
	for _, c := range order {
		v := ratiosOf(all[c])
		med := median(v) // sorts v
		rank := func(p float64) float64 { return v[int(math.Ceil(p*float64(len(v))))-1] }
		over := make([]float64, len(all[c]))
		for i, p := range all[c] {
			over[i] = p.over
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.3f | %.2f–%.2f | %s | %.1f |\n", c.scenario, c.mode,
			len(perRun[c]), len(v), med, rank(0.25), rank(0.75), strings.Join(perRun[c], ", "), median(over))
	}
	return nil
}

// ratiosOf returns the ratios of ps, in a slice of their own.
func ratiosOf(ps []pooledRound) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.ratio
	}
	return out
}
