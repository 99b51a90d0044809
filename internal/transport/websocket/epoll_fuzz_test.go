//go:build linux

package websocket

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// collect is a Peer that keeps the messages it gets.
type collect struct{ msgs []string }

func (c *collect) Message(binary bool, data []byte) {
	kind := "t:"
	if binary {
		kind = "b:"
	}
	c.msgs = append(c.msgs, kind+string(data))
}
func (*collect) Closed() {}

// FuzzParseHeader: the in-place header parser agrees with gobwas/ws's
// reader on every input (or both reject it).
func FuzzParseHeader(f *testing.F) {
	f.Add(clientFrame(ws.OpText, true, "hello"))
	f.Add(clientFrame(ws.OpBinary, false, string(make([]byte, 300))))
	f.Add(clientFrame(ws.OpText, true, string(make([]byte, 70000)))[:20])
	f.Add([]byte{0x81})
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		want, werr := ws.ReadHeader(bytes.NewReader(b))
		switch {
		case err == errShortHeader:
			if werr == nil {
				t.Fatalf("parseHeader says short, ws.ReadHeader read %+v", want)
			}
		case err != nil:
			if werr == nil {
				t.Fatalf("parseHeader: %v; ws.ReadHeader read %+v", err, want)
			}
		case werr != nil:
			t.Fatalf("parseHeader read %+v (%d bytes), ws.ReadHeader: %v", h, n, werr)
		case h != want:
			t.Fatalf("parseHeader %+v, ws.ReadHeader %+v", h, want)
		}
	})
}

// FuzzEpollFrames feeds the same bytes to the portable transport's reader
// and, cut into reads at the fuzzer's chosen sizes, to the epoll
// transport's: both must deliver the same messages.
func FuzzEpollFrames(f *testing.F) {
	f.Add(clientFrame(ws.OpText, true, "hello"), uint8(1))
	f.Add(append(clientFrame(ws.OpText, false, "he"), clientFrame(ws.OpContinuation, true, "llo")...), uint8(3))
	f.Add(append(clientFrame(ws.OpText, false, "a"), clientFrame(ws.OpPing, true, "p")...), uint8(2))
	f.Add(append(clientFrame(ws.OpBinary, true, "\x00\xff"), clientFrame(ws.OpText, true, "ping")...), uint8(5))
	f.Add(append(clientFrame(ws.OpClose, true, "\x03\xe8bye"), clientFrame(ws.OpText, true, "after")...), uint8(4))
	f.Add(clientFrame(ws.OpText, true, string(make([]byte, 300))), uint8(7))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, uint8(1))
	const max = 256
	opts := Options{MaxMessageSize: max, MaxSendBuffer: 1 << 16, HandshakeTimeout: time.Second}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := NewPortable(opts, nil, discard).(*portable)
	e := &epollT{}
	e.init(opts, nil, discard)
	e.wheel.init()
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var want collect
		pc := &conn{p: p, nc: &fakeNetConn{r: bytes.NewReader(data)}}
		pc.setPeer(&want)
		pc.readLoop()

		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		e.wheel.slots = [64][]*econn{} // nothing advances this wheel: drop what closes left in it
		var got collect
		ec := &econn{t: e, fd: fds[0]}
		ec.setPeer(&got)
		step := int(chunk)%64 + 1
		for rest := data; len(rest) > 0; {
			n := min(step, len(rest))
			buf := slices.Clone(rest[:n]) // a read buffer the next read overwrites
			ec.consume(buf)
			clear(buf)
			rest = rest[n:]
		}
		if !slices.Equal(got.msgs, want.msgs) {
			t.Fatalf("reads of %d bytes: epoll delivered %q, portable %q", step, got.msgs, want.msgs)
		}
		for _, m := range got.msgs {
			if len(m)-2 > max {
				t.Fatalf("a %d-byte message passed the %d limit", len(m)-2, max)
			}
		}
	})
}
