// Package testenv finds the real programs tests drive (php-cli, chromium):
// a test without one is skipped on a developer's machine and fails under CI,
// where scripts/test installs them.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the first of names found on PATH. Without any it
// skips the test, or fails it when CI is set.
func Need(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; scripts/test must install it", names[0])
	}
	t.Skipf("%s not installed (scripts/test installs it)", names[0])
	return ""
}

// PHP returns php-cli's path (see Need).
func PHP(t testing.TB) string { return Need(t, "php") }
