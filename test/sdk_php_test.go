package test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// phpServing is the line PHP's built-in server prints once it listens;
// given port 0 it names the port it picked.
var phpServing = regexp.MustCompile(`Development Server \(http://(127\.0\.0\.1:\d+)\) started`)

// startPHPExample runs examples/php/app.php with PHP's built-in server.
// With workers, so that two requests of one session can overlap; they are
// php -S's own children and outlive a SIGTERM to it, so they are stopped
// first, by their PIDs, and the server then exits.
func startPHPExample(t *testing.T, env []string) string {
	php := requireTool(t, "php")
	env = append(env, "UPSTREAM_SECRET="+testSecret, "PHP_CLI_SERVER_WORKERS=4")
	p, m := startProcess(t, phpServing, env, php, "-S", "127.0.0.1:0", "../examples/php/app.php")
	t.Cleanup(func() { stopChildren(t, p.cmd.Process.Pid) })
	return "http://" + m[1]
}

// stopChildren sends SIGTERM to each child of process pid, by its PID.
func stopChildren(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return // it has exited
	}
	for _, f := range strings.Fields(string(b)) {
		if child, err := strconv.Atoi(f); err == nil {
			if err := syscall.Kill(child, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
				t.Errorf("stop php worker %d: %v", child, err)
			}
		}
	}
}
