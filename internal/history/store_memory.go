package history

import (
	"sync"
	"time"

	"thinkgate/internal/hub"
)

// MemoryStore keeps streams in this node's memory: up to Size messages a
// stream, each for TTL. A restart starts every stream over with a new epoch.
type MemoryStore struct {
	Size int
	TTL  time.Duration

	mu      sync.Mutex
	streams map[string]*memStream
	sweepAt time.Time
}

type memStream struct {
	epoch   string
	top     uint64
	last    time.Time // the last append
	entries []memEntry
}

type memEntry struct {
	Entry
	at time.Time
}

// Append adds e to stream.
func (s *MemoryStore) Append(stream string, e Entry, now time.Time) (hub.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	st := s.stream(stream, now)
	st.top++
	st.last = now
	e.Offset = st.top
	e.Data = append([]byte(nil), e.Data...)
	st.entries = append(st.entries, memEntry{e, now})
	if over := len(st.entries) - s.Size; over > 0 {
		st.entries = append(st.entries[:0], st.entries[over:]...)
	}
	return hub.Position{Stream: stream, Offset: st.top, Epoch: st.epoch}, nil
}

// stream returns stream, creating it (a new epoch) when it is not kept.
func (s *MemoryStore) stream(name string, now time.Time) *memStream {
	if s.streams == nil {
		s.streams = map[string]*memStream{}
	}
	st := s.streams[name]
	if st == nil || s.expired(st, now) {
		st = &memStream{epoch: newEpoch(), last: now}
		s.streams[name] = st
	}
	return st
}

// expired: nothing appended within TTL, so every entry is gone and the
// stream starts over.
func (s *MemoryStore) expired(st *memStream, now time.Time) bool { return now.Sub(st.last) >= s.TTL }

// sweep forgets expired streams, at most once a TTL.
func (s *MemoryStore) sweep(now time.Time) {
	if now.Before(s.sweepAt) {
		return
	}
	s.sweepAt = now.Add(s.TTL)
	for name, st := range s.streams {
		if s.expired(st, now) {
			delete(s.streams, name)
		}
	}
}

// Since returns what stream holds after offset.
func (s *MemoryStore) Since(stream string, offset uint64, epoch string, now time.Time) ([]Entry, hub.Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[stream]
	if st == nil || s.expired(st, now) {
		// Nothing kept: a client that has seen nothing of the stream misses
		// nothing; one that has seen a message has lost its place.
		return nil, hub.Position{Stream: stream}, epoch == "" && offset == 0, nil
	}
	top := hub.Position{Stream: stream, Offset: st.top, Epoch: st.epoch}
	if epoch != st.epoch || offset > st.top {
		return nil, top, false, nil
	}
	var out []Entry
	for _, e := range st.entries {
		if now.Sub(e.at) >= s.TTL {
			continue
		}
		if e.Offset > offset {
			out = append(out, e.Entry)
		}
	}
	// Recovered only if the first kept entry follows offset directly.
	first := offset + 1
	if len(out) > 0 && out[0].Offset != first {
		return nil, top, false, nil
	}
	if len(out) == 0 && offset < st.top {
		return nil, top, false, nil
	}
	return out, top, true, nil
}
