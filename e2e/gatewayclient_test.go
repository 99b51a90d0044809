package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/testenv"
)

func needPHP(t *testing.T) string { return testenv.PHP(t) }

// TestGatewayClientProtocolFromPHP: PHP code speaking GatewayWorker's
// Register and inner protocol the way the unchanged GatewayClient does
// drives thinkgate, while real WebSocket clients check what arrives.
func TestGatewayClientProtocolFromPHP(t *testing.T) {
	php := needPHP(t)
	s := start(t, "[gwcompat]\nsecret = \"s3cret\"")
	gatewayClientScenario(t, php, s.addr("register"), "s3cret", s, s.dial(), s.dial())
}

// gatewayClientScenario runs testdata/gatewayclient.php against the Register
// at register with clients a and b, then checks what PHP and the clients
// saw; api is a node whose HTTP API reads a's session.
func gatewayClientScenario(t *testing.T, php, register, secret string, api *server, a, b *client) {
	t.Helper()
	cmd := exec.Command(php, "testdata/gatewayclient.php")
	cmd.Env = append(os.Environ(), "REGISTER="+register, "SECRET="+secret, "A="+a.ID, "B="+b.ID)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	var r struct {
		IsUidOnline              []int
		GetClientIdByUid         []string
		GetAllClientIdCount      int
		GetSession               map[string]any
		GetSessionAbsent         any
		GetClientSessionsByGroup map[string]any
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("php printed %s", out)
	}
	if !reflect.DeepEqual(r.IsUidOnline, []int{1, 0}) || !reflect.DeepEqual(r.GetClientIdByUid, []string{b.ID}) || r.GetAllClientIdCount != 2 {
		t.Fatalf("queries: %s", out)
	}
	wantSession := map[string]any{"name": "alice", "n": 2.0, "f": 1.5, "x": nil, "arr": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(r.GetSession, wantSession) || r.GetSessionAbsent != nil {
		t.Fatalf("getSession: %s", out)
	}
	if !reflect.DeepEqual(r.GetClientSessionsByGroup, map[string]any{a.ID: wantSession, b.ID: []any{}}) {
		t.Fatalf("getClientSessionsByGroup: %s", out)
	}
	// What the browsers saw: the uid push in both, the group push only in a
	// (b was excluded), then b's last message and a close.
	for _, want := range []string{"hello uids", `{"type":"group","n":1}`} {
		if m := a.read(); m != want {
			t.Fatalf("a got %q, want %q", m, want)
		}
	}
	for _, want := range []string{"hello uids", "bye"} {
		if m := b.read(); m != want {
			t.Fatalf("b got %q, want %q", m, want)
		}
	}
	f, err := b.ReadFrame(5 * time.Second)
	if err != nil || f.Op != ws.OpClose {
		t.Fatalf("b after closeClient: %+v %v", f, err)
	}
	// Sessions written through the GatewayWorker protocol read back over the
	// HTTP API as JSON, key order kept.
	_, body := api.post("/api/getSession", map[string]any{"client_id": a.ID}, "")
	if string(body) != `{"result":{"name":"alice","n":2,"f":1.5,"x":null,"arr":{"k":"v"}}}`+"\n" {
		t.Fatalf("HTTP view of the session: %s", body)
	}
}

// TestGatewayClientCallsStayInOrder: GatewayClient opens one connection per
// call; consecutive calls must take effect in the order PHP made them.
func TestGatewayClientCallsStayInOrder(t *testing.T) {
	php := needPHP(t)
	s := start(t, "")
	a := s.dial()
	cmd := exec.Command(php, "testdata/ordered.php")
	cmd.Env = append(os.Environ(), "A="+a.ID)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	for i := range 200 {
		if m := a.read(); m != fmt.Sprint(i) {
			t.Fatalf("message %d arrived as %q", i, m)
		}
	}
}
