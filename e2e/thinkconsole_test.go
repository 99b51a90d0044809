package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// freeAddr is a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestThinkConsoleCommand: with the SDK installed as Composer installs it
// (vendor/thinkgate/thinkgate, a path repository's symlink; its service in
// vendor/services.php, as service:discover writes it), `php think thinkgate
// start -d|status|reload|stop` runs the binary on the project, with the
// settings of config/thinkgate.php, and passes its output and exit codes
// through.
func TestThinkConsoleCommand(t *testing.T) {
	php := needPHP(t)
	dir := tpShapeDir(t)
	repo, _ := filepath.Abs("..")
	os.MkdirAll(filepath.Join(dir, "vendor/thinkgate"), 0o755)
	if err := os.Symlink(repo, filepath.Join(dir, "vendor/thinkgate/thinkgate")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vendor/services.php"),
		[]byte("<?php\nreturn ['fixturelib\\\\AccessService', 'Thinkgate\\\\ThinkPHP\\\\Service'];\n"), 0o644)
	ws, api, web := freeAddr(t), freeAddr(t), freeAddr(t)
	os.WriteFile(filepath.Join(dir, "config/thinkgate.php"), []byte(fmt.Sprintf(`<?php
return [
    'ws' => ['listen' => %q],
    'api' => ['listen' => %q],
    'text' => ['listen' => ''],
    'gwcompat' => ['register' => '', 'inner' => ''],
    'http' => ['listen' => %q],
    'php' => ['workers' => 1],
    'heartbeat' => ['timeout' => '0s', 'reply' => 'pong'],
];
`, ws, api, web)), 0o644)
	think := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(php, append([]string{"think", "thinkgate"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "THINKGATE_BINARY="+binary)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	t.Cleanup(func() { think("stop") })
	if out, code := think("status"); code != 4 || !strings.Contains(out, "not running") {
		t.Fatalf("status before start: exit %d\n%s", code, out)
	}
	if out, code := think("start", "-d"); code != 0 {
		t.Fatalf("php think thinkgate start -d: exit %d\n%s", code, out)
	}
	out, code := think("status")
	if code != 0 || !strings.Contains(out, "ThinkPHP") || !strings.Contains(out, web) || !strings.Contains(out, ws) {
		t.Fatalf("php think thinkgate status: exit %d, want the ThinkPHP app on %s and the gateway on %s\n%s", code, web, ws, out)
	}
	if r, b := get(t, "http://"+web+"/hello/think"); r.StatusCode != 200 || !strings.Contains(b, "think") {
		t.Fatalf("the app started by php think thinkgate: %d %q", r.StatusCode, b)
	}
	toml, _ := os.ReadFile(filepath.Join(dir, "runtime/thinkgate.toml"))
	if !strings.Contains(string(toml), `reply = "pong"`) || !strings.Contains(string(toml), "app = ") {
		t.Fatalf("runtime/thinkgate.toml from config/thinkgate.php:\n%s", toml)
	}
	if out, code := think("reload"); code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("php think thinkgate reload: exit %d\n%s", code, out)
	}
	if out, code := think("nonsense"); code != 2 || !strings.Contains(out, "unknown action") {
		t.Fatalf("an unknown action: exit %d\n%s", code, out)
	}
	if out, code := think("stop"); code != 0 {
		t.Fatalf("php think thinkgate stop: exit %d\n%s", code, out)
	}
	if out, code := think("status"); code != 4 {
		t.Fatalf("status after stop: exit %d\n%s", code, out)
	}
}
