package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/testenv"
)

// textConn is one Text port connection.
type textConn struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func (s *server) text() *textConn {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr("text"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &textConn{t: s.t, Conn: c, r: bufio.NewReader(c)}
}

// ask sends raw (which must end in a newline) and returns the reply lines.
func (c *textConn) ask(raw string, replies int) []string {
	c.t.Helper()
	if _, err := c.Write([]byte(raw)); err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for range replies {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("after %q: %v", raw, err)
		}
		out = append(out, strings.TrimSuffix(line, "\n"))
	}
	return out
}

func TestTextPort(t *testing.T) {
	s := start(t, "")
	a, b := s.dial(), s.dial()
	s.call("bindUid", map[string]any{"client_id": a.ID, "uid": "u1"})
	s.call("joinGroup", map[string]any{"client_id": b.ID, "group": "g"})
	tc := s.text()

	// The seed shorthand sends the whole line to the uid and answers ok/fail.
	if got := tc.ask(`{"uid":"u1","percent":"88%"}`+"\n", 1); got[0] != "ok" {
		t.Fatalf("shorthand: %q", got)
	}
	if m := a.read(); m != `{"uid":"u1","percent":"88%"}` {
		t.Fatalf("client got %q", m)
	}
	// With data, only the data goes out.
	if got := tc.ask(`{"uid":"u1","data":"just this"}`+"\r\n", 1); got[0] != "ok" {
		t.Fatalf("shorthand with data: %q", got)
	}
	if m := a.read(); m != "just this" {
		t.Fatalf("client got %q", m)
	}
	if got := tc.ask(`{"uid":"nobody","x":1}`+"\n", 1); got[0] != "fail" {
		t.Fatalf("shorthand to nobody: %q", got)
	}
	// Method lines, pipelined: one reply line each, in order.
	got := tc.ask(`{"method":"sendToGroup","group":"g","data":{"n":1}}`+"\n"+
		`{"method":"isUidOnline","uid":"u1"}`+"\n"+
		`{"method":"getClientIdByUid","uid":"u1"}`+"\n", 3)
	if got[0] != "1" || got[1] != "true" || got[2] != fmt.Sprintf(`[%q]`, a.ID) {
		t.Fatalf("method lines: %q", got)
	}
	if m := b.read(); m != `{"n":1}` {
		t.Fatalf("group member got %q", m)
	}
	// Bad lines get an error line and the connection stays usable.
	for _, bad := range []string{"not json", `{"method":"nope"}`, `{"method":"sendToUid","data":"x"}`, `{"x":1}`, `[1,2]`} {
		reply := tc.ask(bad+"\n", 1)[0]
		if !strings.HasPrefix(reply, `{"error":{"code":"`) {
			t.Fatalf("%q got %q", bad, reply)
		}
	}
	if got := tc.ask(`{"method":"getAllClientIdCount"}`+"\n", 1); got[0] != "2" {
		t.Fatalf("after bad lines: %q", got)
	}
}

func TestTextPortLineLimit(t *testing.T) {
	s := start(t, "[text]\nmax_line_size = 100")
	tc := s.text()
	if got := tc.ask(`{"method":"getAllUidCount","pad":"`+strings.Repeat("p", 50)+`"}`+"\n", 1); got[0] != "0" {
		t.Fatalf("line under the limit: %q", got)
	}
	reply := tc.ask(`{"uid":"u1","pad":"`+strings.Repeat("p", 200)+"\"}\n", 1)[0]
	if !strings.Contains(reply, `"too_large"`) {
		t.Fatalf("long line got %q", reply)
	}
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.r.ReadByte(); err == nil {
		t.Fatal("connection not closed after a long line")
	}
	// Other connections are fine.
	if got := s.text().ask(`{"method":"getAllUidCount"}`+"\n", 1); got[0] != "0" {
		t.Fatalf("new connection: %q", got)
	}
}

func TestTextPortKey(t *testing.T) {
	s := start(t, "[text]\nkey = \"k1\"")
	tc := s.text()
	if got := tc.ask(`{"uid":"u1"}`+"\n", 1); !strings.Contains(got[0], "unauthorized") {
		t.Fatalf("before auth: %q", got)
	}
	if got := tc.ask(`{"method":"auth","key":"bad"}`+"\n", 1); !strings.Contains(got[0], "unauthorized") {
		t.Fatalf("bad key: %q", got)
	}
	if got := tc.ask(`{"method":"auth","key":"k1"}`+"\n"+`{"uid":"u1"}`+"\n", 2); got[0] != "true" || got[1] != "fail" {
		t.Fatalf("after auth: %q", got)
	}
}

// TestPHPPushThroughTextPort runs real php-cli pushing exactly like the seed
// snippet while a real WebSocket client receives.
func TestPHPPushThroughTextPort(t *testing.T) {
	php := testenv.PHP(t)
	s := start(t, "")
	c := s.dial()
	s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "u1"})
	c2 := s.dial()
	s.call("bindUid", map[string]any{"client_id": c2.ID, "uid": "1001"})

	cmd := exec.Command(php, "testdata/push.php")
	cmd.Env = append(os.Environ(), "THINKGATE_TEXT="+s.addr("text"), "PUSH_UID=u1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	if string(out) != "ok\n1\n" {
		t.Fatalf("php read %q, want ok then 1", out)
	}
	if m := c.read(); m != `{"uid":"u1","percent":"88%"}` {
		t.Fatalf("browser got %q", m)
	}
	if m := c2.read(); m != `{"type":"order","id":7}` {
		t.Fatalf("uid 1001 got %q", m)
	}
}
