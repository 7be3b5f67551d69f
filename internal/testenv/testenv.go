// Package testenv holds what sessionproxy's tests share about the machine
// they run on.
package testenv

import (
	"os"
	"os/exec"
	"testing"
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
