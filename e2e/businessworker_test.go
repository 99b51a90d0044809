package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestBusinessWorkerAttach: a PHP BusinessWorker attached through the
// Register gets onConnect, onWebSocketConnect (with the handshake data),
// onMessage (with the session it wrote) and onClose for a real WebSocket
// client, and its sendToCurrentClient replies reach that client.
func TestBusinessWorkerAttach(t *testing.T) {
	s := start(t, "[gwcompat]\nsecret = \"k\"")
	worker, lines := startBusinessWorker(t, s)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "BusinessWorker attached") })
	// Clients are timed out (heartbeat.timeout, 120 s) with no server ping:
	// the start says so, as a GatewayWorker app moved over would lose its
	// idle users.
	waitFor(t, func() bool {
		return strings.Contains(s.logs(), "clients silent for heartbeat.timeout are closed with no server ping set")
	})

	c := s.dialPath("/chat?room=7&x[a]=2", http.Header{"Cookie": {"sid=abc; t=1"}})
	if m := c.read(); m != "hello "+c.ID {
		t.Fatalf("onConnect reply %q", m)
	}
	var wsData struct {
		Get         map[string]any
		Cookie      map[string]string
		ServerName  string `json:"server_name"`
		RemoteAddr  string `json:"remote_addr"`
		ClientIP    string `json:"client_ip"`
		GatewayPort int    `json:"gateway_port"`
	}
	if err := json.Unmarshal([]byte(c.read()), &wsData); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(wsData.Get) != "map[room:7 x:map[a:2]]" || wsData.Cookie["sid"] != "abc" || wsData.ServerName != s.addr("ws") ||
		wsData.RemoteAddr != "127.0.0.1" || wsData.ClientIP != "127.0.0.1" || fmt.Sprint(wsData.GatewayPort) != strings.Split(s.addr("ws"), ":")[1] {
		t.Fatalf("onWebSocketConnect data %+v", wsData)
	}
	// onMessage sees the session the worker wrote in onConnect and onMessage.
	for i := 1; i <= 3; i++ {
		c.WriteText(fmt.Sprint("m", i))
		if m := c.read(); m != fmt.Sprintf("echo:m%d n=%d", i, i) {
			t.Fatalf("message %d: %q", i, m)
		}
	}
	// The session is on the gateway, where the HTTP API reads it too.
	if got := s.call("getSession", map[string]any{"client_id": c.ID}); fmt.Sprint(got) != "map[n:3]" {
		t.Fatalf("session on the gateway: %v", got)
	}
	c.WriteFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if !lines.Scan() || lines.Text() != fmt.Sprintf(`closed %s {"n":3}`, c.ID) {
		t.Fatalf("onClose: %q", lines.Text())
	}
	worker.Wait()
}

// startBusinessWorker runs testdata/businessworker.php against s (secret
// "k") until the test ends, and returns it once it says it attached, with
// the rest of its output.
func startBusinessWorker(t *testing.T, s *server) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	worker := exec.Command(needPHP(t), "testdata/businessworker.php")
	worker.Env = append(os.Environ(), "REGISTER="+s.addr("register"), "SECRET=k")
	stdout, _ := worker.StdoutPipe()
	worker.Stderr = os.Stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { worker.Process.Kill(); worker.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "attached" {
		t.Fatalf("worker did not attach: %q", lines.Text())
	}
	return worker, lines
}

// TestBusinessWorkerWithGatewaySettings: with the gateway's ping settings
// carried over, a BusinessWorker attaching gets no warning.
func TestBusinessWorkerWithGatewaySettings(t *testing.T) {
	s := start(t, "[gwcompat]\nsecret = \"k\"\n[heartbeat]\ntimeout = \"0s\"\nserver_ping = '{\"type\":\"ping\"}'\nserver_ping_interval = \"10s\"")
	startBusinessWorker(t, s)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "BusinessWorker attached") })
	s.dial()                           // a line the server logs after the attach (client connected)
	time.Sleep(200 * time.Millisecond) // the warning would have come right after "attached"
	if strings.Contains(s.logs(), "no server ping set") {
		t.Fatalf("a warning though the ping settings are carried over:\n%s", s.logs())
	}
}

// TestPushOnlyWithoutWorker: with no BusinessWorker attached, client messages
// go nowhere and nothing breaks.
func TestPushOnlyWithoutWorker(t *testing.T) {
	s := start(t, "")
	c := s.dial()
	c.WriteText("nobody listens")
	s.call("sendToClient", map[string]any{"client_id": c.ID, "data": "still pushed"})
	if m := c.read(); m != "still pushed" {
		t.Fatalf("got %q", m)
	}
}
