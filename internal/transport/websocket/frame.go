package websocket

import "encoding/binary"

// Frame returns payload as one server-to-client frame (final, unmasked): a
// text frame, or a binary one when binary is set. The result is what
// transport.Conn.Send takes; build it once and queue the same bytes on every
// client of a fan-out.
func Frame(payload []byte, binary bool) []byte {
	op := byte(0x1)
	if binary {
		op = 0x2
	}
	return serverFrame(op, payload)
}

// serverFrame is a final, unmasked frame with opcode op, in one allocation.
func serverFrame(op byte, payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n <= 125:
		b = append(make([]byte, 0, 2+n), 0x80|op, byte(n))
	case n <= 0xFFFF:
		b = append(make([]byte, 0, 4+n), 0x80|op, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(make([]byte, 0, 10+n), 0x80|op, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}
