package websocket

import (
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// errShortHeader means the buffer does not hold a whole frame header yet.
var errShortHeader = errors.New("incomplete frame header")

// errBadLength is a 64-bit payload length with its top bit set (RFC 6455 5.2).
var errBadLength = errors.New("frame length has its most significant bit set")

// parseHeader reads a frame header at the start of b without copying:
// the header and its length in bytes, errShortHeader when b ends inside it.
func parseHeader(b []byte) (ws.Header, int, error) {
	var h ws.Header
	if len(b) < 2 {
		return h, 0, errShortHeader
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	masked := b[1]&0x80 != 0
	if masked {
		n += 4
	}
	if len(b) < n {
		return h, 0, errShortHeader
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = masked
	i := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		i = 4
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, errBadLength
		}
		h.Length = int64(u)
		i = 10
	default:
		h.Length = int64(l)
	}
	if masked {
		copy(h.Mask[:], b[i:i+4])
	}
	return h, n, nil
}
