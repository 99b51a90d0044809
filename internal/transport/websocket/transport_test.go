package websocket

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/transport"
	"thinkgate/internal/wsclient"
)

// These tests run against every transport this OS has, in this process,
// with real sockets and a real WebSocket client.

type event struct {
	conn   transport.Conn
	closed bool
	binary bool
	data   string
}

// recorder is a Handler that reports every event on one channel.
type recorder struct {
	events chan event
	opened atomic.Int64
	closed atomic.Int64
}

func (r *recorder) Open(c transport.Conn, _ *transport.Request) transport.Peer {
	r.opened.Add(1)
	r.events <- event{conn: c}
	return &recPeer{r: r, c: c}
}

type recPeer struct {
	r *recorder
	c transport.Conn
}

func (p *recPeer) Message(binary bool, data []byte) {
	p.r.events <- event{conn: p.c, binary: binary, data: string(data)}
}

func (p *recPeer) Closed() {
	p.r.closed.Add(1)
	p.r.events <- event{conn: p.c, closed: true}
}

// next returns the next event, failing after 5 s.
func (r *recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return event{}
	}
}

type kind struct {
	name string
	new  func(Options, transport.Handler, *slog.Logger) (Transport, error)
}

func kinds() []kind {
	ks := []kind{{"portable", func(o Options, h transport.Handler, l *slog.Logger) (Transport, error) {
		return NewPortable(o, h, l), nil
	}}}
	if runtime.GOOS == "linux" {
		ks = append(ks, kind{"epoll", NewEpoll})
	}
	return ks
}

func testOptions() Options {
	return Options{MaxMessageSize: 1 << 16, MaxSendBuffer: 256 << 10, HandshakeTimeout: 5 * time.Second,
		MaxHeaderSize: 8 << 10, ServerPingInterval: time.Hour}
}

// serve starts a transport of kind k on a loopback port.
func serve(t *testing.T, k kind, o Options) (Transport, *recorder, string) {
	t.Helper()
	rec := &recorder{events: make(chan event, 1<<16)}
	tr, err := k.new(o, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tr.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tr.Shutdown(ctx)
	})
	return tr, rec, ln.Addr().String()
}

// rawDial connects and completes the handshake by hand, for tests that
// write bytes a normal client would not.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	// The answer byte by byte, so no frame byte is read ahead.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := nc.Read(b); err != nil {
			t.Fatalf("handshake: %v after %q", err, head)
		}
		head = append(head, b[0])
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101 ") {
		t.Fatalf("handshake answer %q", head)
	}
	nc.SetReadDeadline(time.Time{})
	return nc
}

func TestPartialFrames(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			_, rec, addr := serve(t, k, testOptions())
			nc := rawDial(t, addr)
			rec.next(t) // open
			var wire []byte
			wire = append(wire, clientFrame(ws.OpText, true, "hello")...)
			wire = append(wire, clientFrame(ws.OpText, true, "world")...)
			// Byte by byte: every header and payload arrives in pieces.
			for i := range wire {
				if _, err := nc.Write(wire[i : i+1]); err != nil {
					t.Fatal(err)
				}
				if i%3 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			for _, want := range []string{"hello", "world"} {
				if e := rec.next(t); e.data != want || e.closed {
					t.Fatalf("got %+v, want message %q", e, want)
				}
			}
			// Two frames and a half in one write, the rest later.
			two := append(clientFrame(ws.OpBinary, true, "\x00\x01"), clientFrame(ws.OpText, true, "third")...)
			cut := len(two) - 3
			nc.Write(two[:cut])
			time.Sleep(20 * time.Millisecond)
			nc.Write(two[cut:])
			if e := rec.next(t); !e.binary || e.data != "\x00\x01" {
				t.Fatalf("got %+v, want the binary message", e)
			}
			if e := rec.next(t); e.data != "third" {
				t.Fatalf("got %+v, want third", e)
			}
		})
	}
}

func TestLargeMessageInPieces(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			o := testOptions()
			o.MaxMessageSize = 1 << 20
			_, rec, addr := serve(t, k, o)
			nc := rawDial(t, addr)
			rec.next(t)
			big := strings.Repeat("0123456789", 30000) // 300 kB: the 8-byte length form, many reads
			wire := clientFrame(ws.OpText, true, big)
			for len(wire) > 0 {
				n := min(len(wire), 7000)
				nc.Write(wire[:n])
				wire = wire[n:]
			}
			if e := rec.next(t); e.data != big {
				t.Fatalf("got %d bytes, want %d", len(e.data), len(big))
			}
		})
	}
}

func TestFragmentedMessages(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			_, rec, addr := serve(t, k, testOptions())
			nc := rawDial(t, addr)
			rec.next(t)
			var wire []byte
			wire = append(wire, clientFrame(ws.OpText, false, "hel")...)
			wire = append(wire, clientFrame(ws.OpPing, true, "p1")...) // control frames may come between fragments
			wire = append(wire, clientFrame(ws.OpContinuation, false, "lo ")...)
			nc.Write(wire)
			time.Sleep(20 * time.Millisecond) // the next fragment in a later read
			nc.Write(clientFrame(ws.OpContinuation, true, "world"))
			if e := rec.next(t); e.data != "hello world" {
				t.Fatalf("got %+v, want the reassembled message", e)
			}
			// The ping got its pong, carrying the same payload.
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, err := ws.ReadHeader(nc)
			if err != nil || h.OpCode != ws.OpPong {
				t.Fatalf("want a pong, got %+v %v", h, err)
			}
			p := make([]byte, h.Length)
			io.ReadFull(nc, p)
			if string(p) != "p1" {
				t.Fatalf("pong payload %q", p)
			}
			// A continuation with no message is a protocol error: close 1002.
			nc.Write(clientFrame(ws.OpContinuation, true, "stray"))
			if e := rec.next(t); !e.closed {
				t.Fatalf("got %+v, want the close", e)
			}
			h, err = ws.ReadHeader(nc)
			if err != nil || h.OpCode != ws.OpClose {
				t.Fatalf("want a close frame, got %+v %v", h, err)
			}
			p = make([]byte, h.Length)
			io.ReadFull(nc, p)
			if code, _ := ws.ParseCloseFrameData(p); code != ws.StatusProtocolError {
				t.Fatalf("close code %d, want 1002", code)
			}
		})
	}
}

// TestPeerThatReadsNothing: a client that never reads is cut when its
// queue passes the limit; another client keeps getting everything.
func TestPeerThatReadsNothing(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			tr, rec, addr := serve(t, k, testOptions())
			stuck := rawDial(t, addr) // never reads
			_ = stuck
			slow := rec.next(t).conn
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			good, err := wsclient.Dial(ctx, "ws://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer good.Close()
			fast := rec.next(t).conn
			frame := ws.MustCompileFrame(ws.NewTextFrame([]byte(strings.Repeat("z", 32<<10))))
			sent := 0
			for slow.Send(frame) {
				sent++
				if sent > 10000 {
					t.Fatal("Send never refused a client that reads nothing")
				}
			}
			if tr.Stats().ClosedSlow != 1 {
				t.Fatalf("closed_slow = %d, want 1", tr.Stats().ClosedSlow)
			}
			for e := rec.next(t); !e.closed || e.conn != slow; e = rec.next(t) {
			}
			if !fast.Send(ws.MustCompileFrame(ws.NewTextFrame([]byte("still here")))) {
				t.Fatal("the good client was refused")
			}
			if m, err := good.ReadText(5 * time.Second); err != nil || m != "still here" {
				t.Fatalf("good client got %q %v", m, err)
			}
		})
	}
}

// TestFrameLargerThanSendBuffer: the send buffer limits what waits for a
// slow client, not one message: a frame four times MaxSendBuffer reaches a
// client that reads, whole; a client that reads nothing takes such a frame
// and is closed once more than the limit waits.
func TestFrameLargerThanSendBuffer(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			o := testOptions()
			tr, rec, addr := serve(t, k, o)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reader, err := wsclient.Dial(ctx, "ws://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			readerConn := rec.next(t).conn
			stuck := rawDial(t, addr) // never reads
			_ = stuck
			stuckConn := rec.next(t).conn
			big := strings.Repeat("b", 4*o.MaxSendBuffer)
			frame := ws.MustCompileFrame(ws.NewTextFrame([]byte(big)))
			if !readerConn.Send(frame) {
				t.Fatal("a frame larger than the send buffer was refused for a client that reads")
			}
			if m, err := reader.ReadText(10 * time.Second); err != nil || m != big {
				t.Fatalf("the reader got %d bytes (%v), want %d", len(m), err, len(big))
			}
			if !stuckConn.Send(frame) {
				t.Fatal("the first big frame was refused though nothing waited")
			}
			// The kernel's socket buffers take some; past them, the queue
			// holds more than the limit and the next frame closes the client.
			for sent := 1; stuckConn.Send(frame); sent++ {
				if sent > 64 {
					t.Fatal("Send never refused a client that reads nothing")
				}
			}
			if tr.Stats().ClosedSlow != 1 {
				t.Fatalf("closed_slow = %d, want 1", tr.Stats().ClosedSlow)
			}
		})
	}
}

// TestHalfClosed: a client that shuts its sending side down is gone for the
// app at once, and its socket is released.
func TestHalfClosed(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			tr, rec, addr := serve(t, k, testOptions())
			nc := rawDial(t, addr)
			c := rec.next(t).conn
			nc.Write(clientFrame(ws.OpText, true, "last words"))
			nc.(*net.TCPConn).CloseWrite()
			if e := rec.next(t); e.data != "last words" {
				t.Fatalf("got %+v", e)
			}
			if e := rec.next(t); !e.closed || e.conn != c {
				t.Fatalf("got %+v, want the close", e)
			}
			waitActive(t, tr, 0)
			// The server's side is closed too: the client reads EOF.
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("client read after half-close: %v, want EOF", err)
			}
		})
	}
}

func waitActive(t *testing.T, tr Transport, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().Active != n {
		if time.Now().After(deadline) {
			t.Fatalf("active = %d, want %d", tr.Stats().Active, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOpenCloseLoop: 10,000 connections opened and closed (half by the
// client, half by the server) leave no descriptor and no goroutine behind.
func TestOpenCloseLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			fdsBefore, goBefore := openFDs(t), runtime.NumGoroutine()
			tr, rec, addr := serve(t, k, testOptions())
			const total, batch = 10000, 100
			var wg sync.WaitGroup
			errs := make(chan error, batch)
			go func() { // the server closes every other connection as it opens
				i := 0
				for e := range rec.events {
					if !e.closed && e.data == "" {
						if i%2 == 0 {
							e.conn.Close(1000, "bye")
						}
						i++
					}
				}
			}()
			for done := 0; done < total; done += batch {
				for range batch {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						c, err := wsclient.Dial(ctx, "ws://"+addr+"/", nil)
						if err != nil {
							errs <- err
							return
						}
						c.Close()
					}()
				}
				wg.Wait()
				select {
				case err := <-errs:
					t.Fatal(err)
				default:
				}
			}
			waitActive(t, tr, 0)
			deadline := time.Now().Add(10 * time.Second)
			for rec.closed.Load() != total {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d connections reported closed", rec.closed.Load(), total)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := tr.Stats().Accepted; got != total {
				t.Fatalf("accepted %d, want %d", got, total)
			}
			// Every socket is closed; the transport's own descriptors (epoll
			// sets, eventfds, the listener) and goroutines are all it keeps.
			const slack = 16
			deadline = time.Now().Add(10 * time.Second)
			for openFDs(t) > fdsBefore+slack || runtime.NumGoroutine() > goBefore+slack {
				if time.Now().After(deadline) {
					t.Fatalf("after %d connections: %d descriptors (was %d), %d goroutines (was %d)",
						total, openFDs(t), fdsBefore, runtime.NumGoroutine(), goBefore)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(ents)
}

// TestClientCloseFrames: a client's close frame is answered as RFC 6455
// says (5.5.1, 7.4): the same code when it is one a peer may send, 1000 for
// none, 1002 for a 1-byte payload or a code no peer may send, 1007 for a
// reason that is not UTF-8.
func TestClientCloseFrames(t *testing.T) {
	code := func(c uint16, reason string) string {
		return string([]byte{byte(c >> 8), byte(c)}) + reason
	}
	cases := []struct {
		name    string
		payload string
		want    ws.StatusCode
	}{
		{"empty", "", 1000},
		{"1000", code(1000, ""), 1000},
		{"1001 with a reason", code(1001, "bye é"), 1001},
		{"1011", code(1011, ""), 1011},
		{"3000", code(3000, ""), 3000},
		{"4999", code(4999, ""), 4999},
		{"one byte", "\x03", 1002},
		{"0", code(0, ""), 1002},
		{"999", code(999, ""), 1002},
		{"1004", code(1004, ""), 1002},
		{"1005", code(1005, ""), 1002},
		{"1006", code(1006, ""), 1002},
		{"1015", code(1015, ""), 1002},
		{"2999", code(2999, ""), 1002},
		{"5000", code(5000, ""), 1002},
		{"reason not UTF-8", code(1000, "\xff\xfe"), 1007},
	}
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			_, rec, addr := serve(t, k, testOptions())
			for _, c := range cases {
				nc := rawDial(t, addr)
				rec.next(t)
				nc.Write(clientFrame(ws.OpClose, true, c.payload))
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				f, err := ws.ReadFrame(nc)
				if err != nil || f.Header.OpCode != ws.OpClose {
					t.Fatalf("%s: no close frame back: %v %+v", c.name, err, f.Header)
				}
				if got, _ := ws.ParseCloseFrameData(f.Payload); got != c.want {
					t.Errorf("%s: answered %d, want %d", c.name, got, c.want)
				}
				nc.Close()
			}
		})
	}
}

// TestDropsSayWhy: a client thinkgate drops itself gets a close frame whose
// code says why: idle (3001), too slow (3002, after the frame that was being
// written), destroyed (3003).
func TestDropsSayWhy(t *testing.T) {
	closeCode := func(t *testing.T, nc net.Conn) ws.StatusCode {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			f, err := ws.ReadFrame(nc)
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if f.Header.OpCode == ws.OpClose {
				code, _ := ws.ParseCloseFrameData(f.Payload)
				return code
			}
		}
	}
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Run("idle", func(t *testing.T) {
				o := testOptions()
				o.IdleTimeout = time.Second
				_, rec, addr := serve(t, k, o)
				nc := rawDial(t, addr)
				rec.next(t)
				if code := closeCode(t, nc); code != CloseIdle {
					t.Fatalf("idle client got %d, want %d", code, CloseIdle)
				}
			})
			t.Run("destroyed", func(t *testing.T) {
				_, rec, addr := serve(t, k, testOptions())
				nc := rawDial(t, addr)
				c := rec.next(t).conn
				c.Destroy()
				if code := closeCode(t, nc); code != CloseDestroyed {
					t.Fatalf("destroyed client got %d, want %d", code, CloseDestroyed)
				}
			})
			t.Run("slow", func(t *testing.T) {
				tr, rec, addr := serve(t, k, testOptions())
				nc := rawDial(t, addr) // reads nothing until it is dropped
				c := rec.next(t).conn
				frame := ws.MustCompileFrame(ws.NewTextFrame([]byte(strings.Repeat("z", 32<<10))))
				for sent := 0; c.Send(frame); sent++ {
					if sent > 10000 {
						t.Fatal("Send never refused a client that reads nothing")
					}
				}
				if tr.Stats().ClosedSlow != 1 {
					t.Fatalf("closed_slow = %d", tr.Stats().ClosedSlow)
				}
				// Now it reads: whole frames, then the close frame.
				if code := closeCode(t, nc); code != CloseSlow {
					t.Fatalf("slow client got %d, want %d", code, CloseSlow)
				}
			})
		})
	}
}

// TestHandshakesCountAgainstMaxConns: connections still in their handshake
// count against MaxConns on both transports (every wss:// listener is
// portable), so silent sockets cannot push the process past its share of
// descriptors: the one past the limit gets 503 at once.
func TestHandshakesCountAgainstMaxConns(t *testing.T) {
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			o := testOptions()
			o.MaxConns = 5
			_, _, addr := serve(t, k, o)
			for range 5 {
				c, err := net.Dial("tcp", addr) // and never a request
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			time.Sleep(200 * time.Millisecond) // all five accepted
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			if !strings.HasPrefix(string(b), "HTTP/1.1 503 ") {
				t.Fatalf("the sixth connection got %q, want 503", b)
			}
		})
	}
}
