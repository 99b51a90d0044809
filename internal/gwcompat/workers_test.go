package gwcompat

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/session"
)

// pipeWorker attaches a fake BusinessWorker and returns the packets it gets.
func pipeWorker(t *testing.T, ws *Workers, key string) (*worker, chan *Packet) {
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	w := ws.add(server, key, func() bool { return true })
	got := make(chan *Packet, 100)
	go func() {
		r := bufio.NewReader(client)
		for {
			p, err := ReadPacket(r, MaxPacket)
			if err != nil {
				return
			}
			got <- p
		}
	}()
	return w, got
}

func next(t *testing.T, ch chan *Packet) *Packet {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no packet")
		return nil
	}
}

func TestWorkerRoutingIsStickyLeastConnections(t *testing.T) {
	g, _ := clientid.NewGenerator("127.0.0.1", 2999, time.Unix(0, 0))
	h := hub.New(g)
	ws := NewWorkers(net.IPv4(127, 0, 0, 1), 2999, 7272, quiet)
	w1, got1 := pipeWorker(t, ws, "127.0.0.1:W:0")
	_, got2 := pipeWorker(t, ws, "127.0.0.1:W:1")

	remote := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 40044}
	var cs []*hub.Client
	for range 4 {
		c := h.Connect(&recConn{}, session.NativeWebSocket)
		cs = append(cs, c)
		ws.Connect(&events.Conn{Client: c, Handshake: &events.Handshake{URI: "/", RemoteAddr: remote}})
	}
	// Least connections, ties by attach order: 1, 2, 1, 2.
	for i, ch := range []chan *Packet{got1, got2, got1, got2} {
		p := next(t, ch)
		if p.Cmd != CmdOnConnect || p.ConnID != cs[i].ConnID() || p.ClientIP != 0x0a010203 || p.ClientPort != 40044 ||
			p.LocalIP != 0x7f000001 || p.LocalPort != 2999 || p.GatewayPort != 7272 || p.Flag != FlagBodyIsScalar {
			t.Fatalf("client %d: %+v", i, p)
		}
		if p := next(t, ch); p.Cmd != CmdOnWebSocketConnect || p.Flag != 0 {
			t.Fatalf("client %d second event %+v", i, p)
		}
	}
	// Sticky: client 0's messages keep going to worker 1, with its session.
	h.Do(&hub.Command{Op: hub.OpSetSession, ClientID: cs[0].ID, Session: []byte(`a:1:{s:1:"n";i:1;}`)})
	ws.Message(cs[0], false, []byte("hi"))
	if p := next(t, got1); p.Cmd != CmdOnMessage || string(p.Body) != "hi" || string(p.Ext) != `a:1:{s:1:"n";i:1;}` {
		t.Fatalf("message %+v", p)
	}
	// When worker 1 goes, its clients move to worker 2 on their next event.
	ws.remove(w1)
	ws.Message(cs[2], false, []byte("moved"))
	if p := next(t, got2); p.Cmd != CmdOnMessage || p.ConnID != cs[2].ConnID() {
		t.Fatalf("after detach %+v", p)
	}
	ws.Close(cs[1])
	if p := next(t, got2); p.Cmd != CmdOnClose || p.ConnID != cs[1].ConnID() {
		t.Fatalf("close %+v", p)
	}
}

// TestWorkerThatNeverReads: events for a BusinessWorker that stops reading
// are bounded in bytes: past the limit it is disconnected (and logged), not
// left holding gigabytes; a worker that reads keeps getting everything.
func TestWorkerThatNeverReads(t *testing.T) {
	g, _ := clientid.NewGenerator("127.0.0.1", 2999, time.Unix(0, 0))
	h := hub.New(g)
	var logs strings.Builder
	var mu sync.Mutex
	ws := NewWorkers(net.IPv4(127, 0, 0, 1), 2999, 7272, slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	ws.maxQueued = 1 << 20
	server, client := net.Pipe() // an unbuffered pipe nobody reads
	t.Cleanup(func() { server.Close(); client.Close() })
	ws.add(server, "127.0.0.1:stuck", func() bool { return true })
	c := h.Connect(&recConn{}, session.NativeWebSocket)
	body := make([]byte, 64<<10)
	for range 40 { // 2.5 MB of events
		ws.Message(c, false, body)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Fatal("the worker that never reads is still connected after 2.5 MB of events against a 1 MiB limit")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "BusinessWorker disconnected: it is not reading its events") {
		t.Fatalf("no log line says why:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
