package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/testenv"
)

// cpus says where the benchmark pins its processes: the proxy under test
// alone on one CPU; the load generator, the upstream and Redis on the
// others, as if they were other machines. (Redis beside the proxy took
// the proxy's CPU; unpinned it did no better than beside wrk.) Empty
// fields: no pinning.
type cpus struct {
	proxy, load string // taskset -c lists
}

// allowedCPUs returns this process's CPU affinity list from
// /proc/self/status ("0-1", "2,3", ...) expanded to CPU numbers.
func allowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		list, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		return parseCPUList(strings.TrimSpace(list))
	}
	return nil, errors.New("no Cpus_allowed_list in /proc/self/status")
}

// parseCPUList expands a Linux CPU list such as "0-2,4".
func parseCPUList(list string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("cpu list %q: bad range %q", list, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// pinTo splits the allowed CPUs: the first for the proxies, the rest for
// everything else. It pins nothing with fewer than two.
func pinTo(allowed []int) cpus {
	if len(allowed) < 2 {
		return cpus{}
	}
	rest := make([]string, len(allowed)-1)
	for i, c := range allowed[1:] {
		rest[i] = strconv.Itoa(c)
	}
	return cpus{proxy: strconv.Itoa(allowed[0]), load: strings.Join(rest, ",")}
}

// processes are the programs the benchmark started; stopAll stops each by
// its PID.
type processes struct {
	dir  string // logs go here
	list []*process
}

// process is one started program.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, pinned to the CPU list cpu unless it is
// empty, output to a log file in the benchmark's directory.
func (ps *processes) start(ctx context.Context, name, cpu, bin string, args ...string) (*process, error) {
	return ps.startWith(ctx, name, cpu, nil, bin, args...)
}

// startWith is start with env added to the process's environment.
func (ps *processes) startWith(ctx context.Context, name, cpu string, env []string, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(ps.dir, fileName(name+".log"))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if cpu != "" {
		args = append([]string{"-c", cpu, bin}, args...)
		bin = "taskset"
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// If the driver dies without cleaning up, the kernel kills the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	ps.list = append(ps.list, p)
	return p, nil
}

// logOf returns the log of the process started as name ("" if none was,
// which no file has).
func (ps *processes) logOf(name string) string {
	for _, p := range ps.list {
		if p.name == name {
			return p.log
		}
	}
	return ""
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last line the process logged.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// stopAll sends SIGTERM to every process by PID, all first so that they
// stop in parallel, and SIGKILL to any still running after 5 seconds.
func (ps *processes) stopAll() {
	for _, p := range ps.list {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range ps.list {
		testenv.Stop(p.cmd.Process, p.done, 5*time.Second)
	}
}

// fileName is name made safe as one file name in the run's directory: a
// mode's name holds what follows its "+", such as a profile's path in
// "secure+GOFLAGS=-pgo=/tmp/cpu.pprof".
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, name)
}
