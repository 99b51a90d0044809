package cluster

import (
	"context"
	"encoding/binary"
	"errors"

	"thinkgate/internal/hub"
)

// ErrNoNode means no node listens under the id a request was sent to: the
// node stopped or died, so whatever it held is gone.
var ErrNoNode = errors.New("cluster: no such node")

// ErrUnavailable means the engine (Redis or NATS) cannot be reached; callers
// get it at once rather than waiting for a timeout.
var ErrUnavailable = hub.ErrUnavailable

// Bus carries requests between nodes over an existing engine. Requests are
// delivered at most once: a failed send is reported, never retried, so a
// push can never reach a client twice.
type Bus interface {
	// Serve delivers requests addressed to node self to handle, whose
	// result is the reply, until Close. It returns once requests can arrive.
	Serve(ctx context.Context, self string, handle func(req []byte) []byte) error
	// Request sends req to node and waits for its reply. It fails with
	// ErrNoNode when no node listens under that id and with ErrUnavailable
	// when the engine is down.
	Request(ctx context.Context, node string, req []byte) ([]byte, error)
	// Listening reports whether some process serves node's requests now.
	Listening(ctx context.Context, node string) (bool, error)
	// Close stops serving and releases the engine connections.
	Close() error
}

// envelope frames a request or a reply on engines without request/reply of
// their own (Redis pub/sub): kind, sequence number, sender, body.
const (
	kindRequest byte = 'q'
	kindReply   byte = 'r'
)

func appendEnvelope(b []byte, kind byte, seq uint64, from string, body []byte) []byte {
	b = append(b, kind)
	b = binary.AppendUvarint(b, seq)
	b = appendString(b, from)
	return append(b, body...)
}

func parseEnvelope(b []byte) (kind byte, seq uint64, from string, body []byte, err error) {
	r := &reader{b: b}
	kind = r.byte()
	seq = r.uvarint()
	from = r.string()
	if r.err != nil || (kind != kindRequest && kind != kindReply) {
		return 0, 0, "", nil, errCorrupt
	}
	return kind, seq, from, r.b, nil
}
