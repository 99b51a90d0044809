package inbox

import (
	"sync"
	"time"
)

// MemoryStore keeps inboxes in this node's memory: Size messages a uid at
// most, each for TTL.
type MemoryStore struct {
	Size int
	TTL  time.Duration

	mu      sync.Mutex
	m       map[string][]Message
	sweepAt time.Time
}

// Push keeps m for uid.
func (s *MemoryStore) Push(uid string, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]Message{}
	}
	if m.At.After(s.sweepAt) { // inboxes nobody came for are dropped, once a TTL
		s.sweepAt = m.At.Add(s.TTL)
		for u := range s.m {
			if len(s.fresh(u, m.At)) == 0 {
				delete(s.m, u)
			}
		}
	}
	m.Data = append([]byte(nil), m.Data...)
	q := append(s.m[uid], m)
	if over := len(q) - s.Size; over > 0 {
		q = append(q[:0], q[over:]...)
	}
	s.m[uid] = q
	return nil
}

func (s *MemoryStore) fresh(uid string, now time.Time) []Message {
	var out []Message
	for _, m := range s.m[uid] {
		if now.Sub(m.At) < s.TTL {
			out = append(out, m)
		}
	}
	return out
}

// Take removes and returns uid's messages.
func (s *MemoryStore) Take(uid string, now time.Time) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.fresh(uid, now)
	delete(s.m, uid)
	return out, nil
}

// Count is how many messages uid has waiting.
func (s *MemoryStore) Count(uid string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fresh(uid, now)), nil
}

// Clear drops uid's messages.
func (s *MemoryStore) Clear(uid string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.fresh(uid, now))
	delete(s.m, uid)
	return n, nil
}
