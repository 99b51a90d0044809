package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/wsclient"
)

// TestThinkPHPEvents runs WebSocket events through a ThinkPHP project's
// router: the ThinkPHP-shaped fixture (testdata/tpshape) by default, or a
// real project with its vendor/ installed named by TP_ROOT (CI has no
// ThinkPHP source); on a development machine:
//
//	TP_ROOT=/path/to/tp8 go test -race -run TestThinkPHPEvents ./e2e
func TestThinkPHPEvents(t *testing.T) {
	root := os.Getenv("TP_ROOT")
	if root == "" {
		root = tpShapeDir(t)
	}
	needPHP(t)
	probe, _ := os.ReadFile("testdata/thinkphp/ThinkgateWsProbe.php")
	ctrl := filepath.Join(root, "app/controller/ThinkgateWsProbe.php")
	if err := os.WriteFile(ctrl, probe, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(ctrl) })
	stopLog := filepath.Join(t.TempDir(), "stops")
	t.Setenv("TG_PROBE_LOG", stopLog)
	const p = "thinkgate_ws_probe/"
	s := start(t, fmt.Sprintf(`[http]
listen = "127.0.0.1:0"
[php]
app = %q
workers = 2
[events]
sink = "php"
on_connect = "%sconnect"
on_message = "%sother"
on_close = "%sclose"
on_worker_start = "%sstart"
on_worker_stop = "%sstop"`, root, p, p, p, p, p))

	dial := func(path string) *wsclient.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := wsclient.DialHeader(ctx, "ws://"+s.addr("ws")+path, nil, http.Header{"Cookie": {"sid=abc123"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	read := func(c *wsclient.Conn) string {
		t.Helper()
		m, err := c.ReadText(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := dial("/?room=7")
	init := read(a)
	hello := read(a)
	if !strings.Contains(hello, `"type":"hello"`) || !strings.Contains(hello, `"room":"7"`) || !strings.Contains(hello, `"sid":"abc123"`) ||
		!strings.Contains(hello, `"started":1`) || !strings.Contains(init, hello[strings.Index(hello, `"client_id"`)+13:][:20]) {
		t.Fatalf("on_connect answered %q (init %q)", hello, init)
	}
	a.WriteText(`{"pathInfo":"` + p + `hello","name":"ann"}`)
	if m := read(a); m != "hello ann (POST "+p+"hello)" {
		t.Fatalf("pathInfo message answered %q", m)
	}
	a.WriteText("plain text")
	if m := read(a); m != "other: plain text" {
		t.Fatalf("on_message answered %q", m)
	}
	b := dial("/")
	read(b)
	read(b)
	b.WriteText(`{"pathInfo":"` + p + `hello","name":"bo"}`)
	read(b)
	a.Close()
	if m := read(b); !strings.HasPrefix(m, "left ") {
		t.Fatalf("on_close pushed %q", m)
	}
	denied := dial("/?deny=1")
	read(denied) // init
	if f, err := denied.ReadFrame(10 * time.Second); err != nil || f.Op != ws.OpClose || f.CloseCode() != 4003 {
		t.Fatalf("on_connect with abort(403): %+v %v; want close 4003", f, err)
	}
	// A graceful stop runs on_worker_stop in both workers.
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.exit
	s.exit <- nil // for the harness's cleanup
	if b, _ := os.ReadFile(stopLog); strings.Count(string(b), "stop ") != 2 {
		t.Fatalf("on_worker_stop ran: %q; want twice", b)
	}
}
