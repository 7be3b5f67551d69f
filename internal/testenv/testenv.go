// Package testenv holds what sessionproxy's tests share about the machine
// they run on.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireTool returns the path of the program name. When it is missing
// the test fails in CI (CI is set), where test/run.sh must have installed
// it, and is skipped elsewhere.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI but not installed (test/run.sh installs it)", name)
		}
		t.Skipf("%s not installed; run test/run.sh", name)
	}
	return p
}

// DieWithParent makes cmd's process get SIGKILL if the test binary dies
// first (a panic, a timeout), so that no server a test started outlives
// it. Tests still stop their processes themselves; this is the backstop.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// Stop ends a process a test started, by its PID: SIGTERM, then SIGKILL if
// it has not exited (done closed) within grace. It returns once the
// process has exited, and reports whether SIGTERM was enough.
func Stop(p *os.Process, done <-chan struct{}, grace time.Duration) bool {
	select {
	case <-done:
		return true
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return true
	case <-time.After(grace):
		_ = p.Kill()
		<-done
		return false
	}
}

// Buffer is a bytes.Buffer that a process's output (or any other
// goroutine) may write while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
