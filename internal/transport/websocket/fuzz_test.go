package websocket

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// fakeNetConn reads the fuzz input and swallows writes.
type fakeNetConn struct {
	r io.Reader
}

func (f *fakeNetConn) Read(p []byte) (int, error)       { return f.r.Read(p) }
func (f *fakeNetConn) Write(p []byte) (int, error)      { return len(p), nil }
func (f *fakeNetConn) Close() error                     { return nil }
func (f *fakeNetConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeNetConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeNetConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeNetConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeNetConn) SetWriteDeadline(time.Time) error { return nil }

type checkPeer struct {
	t   *testing.T
	max int
}

func (p checkPeer) Message(binary bool, data []byte) {
	if len(data) > p.max {
		p.t.Fatalf("message of %d bytes passed a %d limit", len(data), p.max)
	}
	if !binary && !utf8.Valid(data) {
		p.t.Fatalf("invalid UTF-8 text passed: %q", data)
	}
	if !binary && string(data) == "ping" {
		p.t.Fatal("heartbeat ping reached the app")
	}
}
func (checkPeer) Closed() {}

func clientFrame(op ws.OpCode, fin bool, p string) []byte {
	var buf bytes.Buffer
	ws.WriteFrame(&buf, ws.MaskFrameInPlace(ws.NewFrame(op, fin, []byte(p))))
	return buf.Bytes()
}

// FuzzReadLoop feeds arbitrary bytes to a connection's frame reader: it must
// never panic, never pass an oversize or non-UTF-8 text message to the app,
// and never hand over a heartbeat ping.
func FuzzReadLoop(f *testing.F) {
	f.Add(clientFrame(ws.OpText, true, "hello"))
	f.Add(clientFrame(ws.OpText, true, "ping"))
	f.Add(append(clientFrame(ws.OpText, false, "he"), clientFrame(ws.OpContinuation, true, "llo")...))
	f.Add(append(clientFrame(ws.OpText, false, "a"), clientFrame(ws.OpPing, true, "p")...))
	f.Add(clientFrame(ws.OpBinary, true, "\x00\xff"))
	f.Add(clientFrame(ws.OpClose, true, "\x03\xe8bye"))
	f.Add(clientFrame(ws.OpText, true, string(make([]byte, 300))))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	const max = 256
	p := NewPortable(Options{MaxMessageSize: max, MaxSendBuffer: 1 << 16, HandshakeTimeout: time.Second},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil))).(*portable)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &conn{p: p, nc: &fakeNetConn{r: bytes.NewReader(data)}}
		c.setPeer(checkPeer{t: t, max: max})
		c.readLoop()
	})
}
