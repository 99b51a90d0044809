// Package history keeps the recent messages of uid and group streams, each
// with its position (an offset, and the stream's epoch), so that a client
// that reconnects gets what it missed (docs/recovery.md). A Store holds the
// streams: MemoryStore on one node, the cluster's Redis (RedisStore) when
// several nodes share a gateway. Doer assigns positions where a command
// enters the gateway, before it fans out, so every node and every client
// sees the same offsets.
package history

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"thinkgate/internal/hub"
)

// Entry is one kept message.
type Entry struct {
	Offset uint64
	Data   []byte
	Binary bool
	Event  string // a Pusher event's name, when it was one
}

// Store keeps streams. Offsets of a stream start at 1 and grow by one per
// message; a stream that is (re)created after it expired gets a new epoch.
type Store interface {
	// Append adds a message to stream and returns its position.
	Append(stream string, e Entry, now time.Time) (hub.Position, error)
	// Since returns the messages of stream after offset, in order, if the
	// client's epoch is the stream's and nothing after offset was dropped
	// (recovered); otherwise recovered is false. top is the stream's
	// current position either way.
	Since(stream string, offset uint64, epoch string, now time.Time) (entries []Entry, top hub.Position, recovered bool, err error)
}

// Policy says which uids and groups keep history: those starting with one
// of the prefixes ("*": all).
type Policy struct {
	UIDs, Groups []string
}

// ParsePrefixes splits a comma-separated prefix list.
func ParsePrefixes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func matches(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if p == "*" || strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Keeps reports whether stream ("u:..." or "g:...") keeps history.
func (p Policy) Keeps(stream string) bool {
	switch {
	case strings.HasPrefix(stream, "u:"):
		return matches(p.UIDs, stream[2:])
	case strings.HasPrefix(stream, "g:"):
		return matches(p.Groups, stream[2:])
	}
	return false
}

// On reports whether any stream keeps history.
func (p Policy) On() bool { return len(p.UIDs)+len(p.Groups) > 0 }

// ErrUnavailable marks a store that could not be reached.
var ErrUnavailable = errors.New("history unavailable")

// Doer records sends to uids and groups with history in Store, then runs
// them on Next (the hub, or the cluster) with their positions.
type Doer struct {
	Next   hub.Doer
	Store  Store
	Policy Policy
	Now    func() time.Time // nil: time.Now
}

// Do records cmd's message in the history of each target that keeps it,
// then runs cmd. A raw message (bytes for a WebSocket socket as they are)
// is not recorded. When the store fails the message is still sent, without
// positions, and the error is returned with the result.
func (d *Doer) Do(cmd *hub.Command) (any, error) {
	if cmd.Message == nil || cmd.Message.Raw || !d.Policy.On() {
		return d.Next.Do(cmd)
	}
	var streams []string
	switch cmd.Op {
	case hub.OpSendToUid:
		for _, u := range cmd.UIDs {
			streams = append(streams, hub.UIDStream(u))
		}
	case hub.OpSendToGroup:
		for _, g := range cmd.Groups {
			streams = append(streams, hub.GroupStream(g))
		}
	default:
		return d.Next.Do(cmd)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	var storeErr error
	m := cmd.Message
	for _, s := range streams {
		if !d.Policy.Keeps(s) {
			continue
		}
		pos, err := d.Store.Append(s, Entry{Data: m.Data, Binary: m.Binary, Event: m.Event}, now())
		if err != nil {
			storeErr = err
			continue
		}
		m.Positions = append(m.Positions, pos)
	}
	res, err := d.Next.Do(cmd)
	if err == nil && storeErr != nil {
		return res, errors.Join(ErrUnavailable, storeErr)
	}
	return res, err
}

// newEpoch is a short random stream epoch.
func newEpoch() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
