package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/testenv"
	"thinkgate/internal/wsclient"
)

// stubPRNG stands in for bcryptprimitives.dll, which Go's Windows runtime
// loads at start and Wine 8 lacks: ProcessPrng over RtlGenRandom.
const stubPRNG = `#include <windows.h>
#include <ntsecapi.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }
`

// winPath is a Linux path as Wine's programs see it.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// TestWindowsBuildUnderWine: the Windows build starts under Wine, where no
// unix socket can be made (it warns and serves anyway), and the gateway
// works: a client gets its init message and a push from the API.
// Resident PHP is not checked here: Debian has no Windows PHP.
func TestWindowsBuildUnderWine(t *testing.T) {
	wine := testenv.Need(t, "wine", "wine64")
	gcc := testenv.Need(t, "x86_64-w64-mingw32-gcc")
	dir := t.TempDir()
	exe := filepath.Join(dir, "thinkgate.exe")
	build := exec.Command("go", "build", "-o", exe, "../cmd/thinkgate")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("windows build: %v\n%s", err, out)
	}
	prefix := filepath.Join(dir, "prefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
	boot := exec.Command(wine, "wineboot", "--init")
	boot.Env = env
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		k := exec.Command("wineserver", "-k")
		k.Env = env
		k.Run()
	})
	os.WriteFile(filepath.Join(dir, "stub.c"), []byte(stubPRNG), 0o644)
	dll := filepath.Join(prefix, "drive_c/windows/system32/bcryptprimitives.dll")
	if out, err := exec.Command(gcc, "-shared", "-o", dll, filepath.Join(dir, "stub.c"), "-ladvapi32").CombinedOutput(); err != nil {
		t.Fatalf("the stand-in DLL: %v\n%s", err, out)
	}
	ws, api := freeAddr(t), freeAddr(t)
	os.Mkdir(filepath.Join(dir, "app"), 0o755)
	cfg := fmt.Sprintf("[ws]\nlisten = %q\n[api]\nlisten = %q\n[text]\nlisten = \"\"\n[gwcompat]\nregister = \"\"\ninner = \"\"\n[php]\napp = '%s'\n[process]\npid_file = '%s'\n",
		ws, api, winPath(filepath.Join(dir, "app")), winPath(filepath.Join(dir, "tg.pid")))
	os.WriteFile(filepath.Join(dir, "tg.toml"), []byte(cfg), 0o644)
	logFile := filepath.Join(dir, "run.log")
	out, _ := os.Create(logFile)
	defer out.Close()
	cmd := exec.Command(wine, exe, "start", "-c", winPath(filepath.Join(dir, "tg.toml")))
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &server{t: t, addrs: map[string]string{"api": api, "ws": ws}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Post("http://"+api+"/api/getAllClientIdCount", "application/json", strings.NewReader("{}")); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("thinkgate.exe under Wine never answered on the API:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, "ws://"+ws+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.ReadText(10 * time.Second); err != nil || !strings.Contains(m, `"type":"init"`) {
		t.Fatalf("init under Wine: %q %v", m, err)
	}
	if n := s.call("sendToAll", map[string]any{"data": "from linux"}); n != 1.0 {
		t.Fatalf("sendToAll under Wine reached %v", n)
	}
	if m, err := c.ReadText(10 * time.Second); err != nil || m != "from linux" {
		t.Fatalf("push under Wine: %q %v", m, err)
	}
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "no control socket") {
		t.Fatalf("the log does not say there is no control socket:\n%s", b)
	}
}
