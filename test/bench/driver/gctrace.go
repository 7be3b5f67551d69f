package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// gcWork is what the garbage collector did in one process during one
// run, read from the lines GODEBUG=gctrace=1 makes it write to its log
// (-gc): the cycles, and their CPU time in all phases (the stop-the-world
// ones, the mutators' assists, the background and idle marking).
type gcWork struct {
	cycles int
	cpuMs  float64
}

// gcLine matches a gctrace line's CPU times:
// "gc 12 @3.101s 1%: 0.047+1.5+0.004 ms clock, 0.047+0.57/0.42/0+0.004 ms cpu, ...".
var gcLine = regexp.MustCompile(`gc \d+ @[0-9.]+s \d+%: [0-9.+]+ ms clock, ([0-9.]+)\+([0-9.]+)/([0-9.]+)/([0-9.]+)\+([0-9.]+) ms cpu`)

// parseGCTrace sums the gctrace lines in b. Other lines (the access log
// shares the process's stderr) are skipped.
func parseGCTrace(b []byte) gcWork {
	var w gcWork
	for _, m := range gcLine.FindAllSubmatch(b, -1) {
		w.cycles++
		for _, f := range m[1:] {
			ms, _ := strconv.ParseFloat(string(f), 64) // the pattern admits only numbers
			w.cpuMs += ms
		}
	}
	return w
}

// logSize is where the next run's lines in the log at path begin.
func logSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// readGCTrace returns the collector's work in the log at path from offset
// from (where the log ended when the run began). A line cut before its
// CPU times (by an access-log write, or by the run's end) is not counted.
func readGCTrace(path string, from int64) (gcWork, error) {
	f, err := os.Open(path)
	if err != nil {
		return gcWork{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<40))
	if err != nil {
		return gcWork{}, fmt.Errorf("%s: %w", path, err)
	}
	return parseGCTrace(b), nil
}

// withGCTrace returns env with gctrace=1 added to its GODEBUG, or a
// GODEBUG of its own.
func withGCTrace(env []string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			kv, found = "GODEBUG="+v+",gctrace=1", true
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GODEBUG=gctrace=1")
	}
	return out
}
