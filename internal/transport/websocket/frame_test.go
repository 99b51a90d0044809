package websocket

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// Frame must produce what a reading client decodes back to the payload, for
// every length encoding (7-bit, 16-bit and 64-bit).
func TestFrame(t *testing.T) {
	for _, tc := range []struct {
		n      int
		binary bool
	}{{0, false}, {1, true}, {125, false}, {126, false}, {65535, true}, {65536, false}, {1 << 20, true}} {
		payload := []byte(strings.Repeat("x", tc.n))
		f, err := ws.ReadFrame(bytes.NewReader(Frame(payload, tc.binary)))
		if err != nil {
			t.Fatalf("len %d: %v", tc.n, err)
		}
		want := ws.OpText
		if tc.binary {
			want = ws.OpBinary
		}
		if !f.Header.Fin || f.Header.Masked || f.Header.OpCode != want || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("len %d: header %+v, payload %d bytes", tc.n, f.Header, len(f.Payload))
		}
		if got := Frame(payload, tc.binary); !bytes.Equal(got, ws.MustCompileFrame(ws.NewFrame(want, true, payload))) {
			t.Fatalf("len %d: differs from gobwas/ws's encoding", tc.n)
		}
	}
}
