// Package phpworker runs PHP worker processes and talks to them over two
// dedicated pipes (fd 3: Go to PHP, fd 4: PHP to Go) in CRC-checked frames,
// so that anything PHP prints to stdout or stderr goes to the log and can
// never corrupt the protocol (docs/resident-php.md, How it works).
package phpworker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Version is the frame protocol version in every header.
const Version = 1

// HeaderLen is the fixed frame header size.
const HeaderLen = 16

// Frame types, Go to PHP.
const (
	TypeRequest = 1  // an HTTP request: meta is the request, body the raw body
	TypeWSEvent = 2  // a WebSocket event
	TypeCancel  = 3  // the client of the request in flight went away
	TypeStop    = 4  // finish and exit
	TypePing    = 5  // answer with TypePong
	TypePushOK  = 6  // the answer to a TypePush: meta {"result": ...} or {"error": {...}}
	TypeReady   = 16 // PHP to Go from here: booted; meta describes the worker
	TypeResp    = 17 // a whole response: meta {status, headers, cookies, mem}, body the content
	TypeHead    = 18 // a streamed response's status and headers
	TypeChunk   = 19 // one chunk of a streamed response
	TypeEnd     = 20 // the end of a streamed response
	TypeFile    = 21 // answer with a file: meta {path, offset, length, delete}
	TypePush    = 22 // a gateway operation from PHP mid-request: meta {"method", "params"}; Go answers TypePushOK
	TypeError   = 23 // a handled error: Go answers 500 and keeps the worker
	TypePong    = 24
	TypeLog     = 25 // a log line from PHP
)

// Flags.
const (
	FlagRecycle = 1 << 0 // retire this worker after this response
	FlagMore    = 1 << 1 // not the last frame of this answer
)

// Frame is one protocol frame.
//
// Header, all integers little-endian:
//
//	0  1  version (1)
//	1  1  type
//	2  2  flags
//	4  4  meta length (JSON)
//	8  4  body length (raw bytes)
//	12 4  CRC-32 (IEEE) of bytes 0-11, PHP's crc32()
//	16 .. meta, then body
type Frame struct {
	Type  byte
	Flags uint16
	Meta  []byte
	Body  []byte
}

// Limits bound what ReadFrame accepts.
type Limits struct {
	Meta int // largest meta, bytes
	Body int // largest body, bytes
}

// DefaultLimits are used when a Limits field is zero.
var DefaultLimits = Limits{Meta: 16 << 20, Body: 64 << 20}

// ErrProtocol marks a frame that cannot be trusted (bad version, CRC,
// or length); the worker that sent it must be killed.
var ErrProtocol = errors.New("worker protocol error")

// AppendHeader appends f's header to b.
func (f *Frame) AppendHeader(b []byte) []byte {
	var h [HeaderLen]byte
	h[0] = Version
	h[1] = f.Type
	binary.LittleEndian.PutUint16(h[2:4], f.Flags)
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(f.Meta)))
	binary.LittleEndian.PutUint32(h[8:12], uint32(len(f.Body)))
	binary.LittleEndian.PutUint32(h[12:16], crc32.ChecksumIEEE(h[:12]))
	return append(b, h[:]...)
}

// WriteFrame writes f in one write call.
func WriteFrame(w io.Writer, f *Frame) error {
	b := make([]byte, 0, HeaderLen+len(f.Meta)+len(f.Body))
	b = f.AppendHeader(b)
	b = append(b, f.Meta...)
	b = append(b, f.Body...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// TooLargeError is a frame whose body is over Limits.Body (php.max_response
// for a response): the frame is not read and the worker must go.
type TooLargeError struct{ Size, Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%v: a body of %d bytes, over the limit of %d", ErrProtocol, e.Size, e.Limit)
}

// Unwrap makes errors.Is(err, ErrProtocol) true.
func (e *TooLargeError) Unwrap() error { return ErrProtocol }

// ReadFrame reads one frame. io.EOF means the stream ended cleanly between
// frames; any other error means the worker must go.
func ReadFrame(r io.Reader, lim Limits) (*Frame, error) {
	if lim.Meta == 0 {
		lim.Meta = DefaultLimits.Meta
	}
	if lim.Body == 0 {
		lim.Body = DefaultLimits.Body
	}
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated header", ErrProtocol)
		}
		return nil, err
	}
	if got, want := binary.LittleEndian.Uint32(h[12:16]), crc32.ChecksumIEEE(h[:12]); got != want {
		return nil, fmt.Errorf("%w: header CRC %08x, want %08x (stray output on the protocol pipe?)", ErrProtocol, got, want)
	}
	if h[0] != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrProtocol, h[0], Version)
	}
	metaLen := binary.LittleEndian.Uint32(h[4:8])
	bodyLen := binary.LittleEndian.Uint32(h[8:12])
	if metaLen > uint32(lim.Meta) {
		return nil, fmt.Errorf("%w: meta of %d bytes over the limit of %d", ErrProtocol, metaLen, lim.Meta)
	}
	if bodyLen > uint32(lim.Body) {
		return nil, &TooLargeError{Size: int64(bodyLen), Limit: int64(lim.Body)}
	}
	buf := make([]byte, int(metaLen)+int(bodyLen))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: truncated frame: %v", ErrProtocol, err)
	}
	return &Frame{
		Type:  h[1],
		Flags: binary.LittleEndian.Uint16(h[2:4]),
		Meta:  buf[:metaLen:metaLen],
		Body:  buf[metaLen:],
	}, nil
}
