package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The CPUs the benchmark pins to: the proxy under test alone on one, the
// load generator, the upstream and Redis on the other, as if they were
// other machines. (Redis beside the proxy took the proxy's CPU; unpinned
// it did no better than beside wrk.)
const (
	cpuProxy = "0"
	cpuLoad  = "1"
)

// processes are the programs the benchmark started; stopAll stops each by
// its PID.
type processes struct {
	dir  string // logs go here
	pin  bool
	list []*process
}

// process is one started program.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, pinned to cpu when pinning, output to a log
// file in the benchmark's directory.
func (ps *processes) start(ctx context.Context, name, cpu, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(ps.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if ps.pin {
		args = append([]string{"-c", cpu, bin}, args...)
		bin = "taskset"
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
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

// stopAll sends SIGTERM to every process by PID, and SIGKILL to any still
// running after 5 seconds.
func (ps *processes) stopAll() {
	for _, p := range ps.list {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range ps.list {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}
