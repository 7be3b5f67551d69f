package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procTicks returns the CPU time (user + system, in clock ticks) that the
// process pid has used so far, from /proc/PID/stat.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, so 11 and 12 after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var sum uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += n
	}
	return sum, nil
}

// cpuBusy returns, for each CPU, the busy and total clock ticks so far,
// from /proc/stat.
func cpuBusy() (map[string][2]uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	out := map[string][2]uint64{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var busy, total uint64
		for i, s := range f[1:] {
			n, _ := strconv.ParseUint(s, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		out[strings.TrimPrefix(f[0], "cpu")] = [2]uint64{busy, total}
	}
	return out, nil
}

// cpuSample is a snapshot for cpuReport.
type cpuSample struct {
	procs map[string]uint64 // process name -> ticks
	cores map[string][2]uint64
}

func sampleCPU(ps *processes) cpuSample {
	s := cpuSample{procs: map[string]uint64{}}
	for _, p := range ps.list {
		if p.exited() {
			continue
		}
		if t, err := procTicks(p.cmd.Process.Pid); err == nil {
			s.procs[p.name] = t
		}
	}
	s.cores, _ = cpuBusy()
	return s
}

// cpuPerRequest returns the CPU microseconds the process target spent
// per request between a and b; 0 when it cannot tell.
func cpuPerRequest(a, b cpuSample, target string, requests float64) float64 {
	before, ok := a.procs[target]
	if !ok || requests <= 0 {
		return 0
	}
	return float64(b.procs[target]-before) / clockTicks * 1e6 / requests
}

// cpuReport says how busy each core and each process was between a and
// b, and how many microseconds of CPU the target process spent per
// request: a per-request cost that, unlike req/s, does not move with
// how much CPU the machine gives the benchmark.
func cpuReport(a, b cpuSample, target string, requests float64) string {
	var parts []string
	if us := cpuPerRequest(a, b, target, requests); us > 0 {
		parts = append(parts, fmt.Sprintf("%.1fµs/req", us))
	}
	var elapsed uint64 // ticks of wall time: any core's total
	for _, c := range slices.Sorted(maps.Keys(b.cores)) {
		busy := b.cores[c][0] - a.cores[c][0]
		elapsed = b.cores[c][1] - a.cores[c][1]
		if elapsed > 0 {
			parts = append(parts, fmt.Sprintf("cpu%s %d%%", c, busy*100/elapsed))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.procs)) {
		before, ok := a.procs[name]
		if d := b.procs[name] - before; ok && d > 0 && elapsed > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", name, d*100/elapsed))
		}
	}
	return strings.Join(parts, " ")
}
