package pusher

import (
	"bytes"
	"log/slog"
	"sync"
	"time"
)

// Cache keeps the last event of each cache- channel for TTL, for the
// clients that subscribe next: in this node's memory, or in Shared (the
// cluster's Redis) so that every node sees what any published.
type Cache struct {
	TTL time.Duration
	Max int // channels kept at most in memory (0: 100,000); past it the oldest expiring go first
	// Shared, when set, holds the events instead of memory.
	Shared SharedStore
	// Log, when set, is told when Shared fails (the event is then not cached).
	Log *slog.Logger

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	event   string
	data    []byte
	expires time.Time
}

// SharedStore is a store with expiry that every node shares (cluster.KV).
type SharedStore interface {
	Set(key string, val []byte, ttl time.Duration) error
	Get(key string) (val []byte, ttl time.Duration, ok bool, err error)
}

// Put keeps event and its data JSON as group's last event.
func (c *Cache) Put(group, event string, data []byte, now time.Time) {
	if c.Shared != nil {
		val := append(append([]byte(event), '\n'), data...) // event names have no newline
		if err := c.Shared.Set(group, val, c.TTL); err != nil && c.Log != nil {
			c.Log.Warn("pusher cache: not stored", "group", group, "err", err)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	limit := c.Max
	if limit <= 0 {
		limit = 100_000
	}
	if _, ok := c.m[group]; !ok && len(c.m) >= limit {
		c.evict(now, limit)
	}
	c.m[group] = cached{event: event, data: append([]byte(nil), data...), expires: now.Add(c.TTL)}
}

// evict drops expired entries, then, if still full, the ones expiring first.
func (c *Cache) evict(now time.Time, limit int) {
	for g, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, g)
		}
	}
	for len(c.m) >= limit {
		var oldest string
		var at time.Time
		for g, e := range c.m {
			if oldest == "" || e.expires.Before(at) {
				oldest, at = g, e.expires
			}
		}
		delete(c.m, oldest)
	}
}

// Peek returns group's last event and how long it is kept still.
func (c *Cache) Peek(group string, now time.Time) (event string, data []byte, ttl time.Duration, ok bool) {
	if c.Shared != nil {
		return c.shared(group)
	}
	event, data, ok = c.Get(group, now)
	if ok {
		c.mu.Lock()
		ttl = c.m[group].expires.Sub(now)
		c.mu.Unlock()
	}
	return event, data, ttl, ok
}

// shared reads group's last event from Shared.
func (c *Cache) shared(group string) (event string, data []byte, ttl time.Duration, ok bool) {
	val, ttl, ok, err := c.Shared.Get(group)
	if err != nil && c.Log != nil {
		c.Log.Warn("pusher cache: not read", "group", group, "err", err)
	}
	ev, d, found := bytes.Cut(val, []byte{'\n'})
	if !ok || !found {
		return "", nil, 0, false
	}
	return string(ev), d, ttl, true
}

// Get returns group's last event, if one is kept and not expired.
func (c *Cache) Get(group string, now time.Time) (event string, data []byte, ok bool) {
	if c.Shared != nil {
		event, data, _, ok = c.shared(group)
		return event, data, ok
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[group]
	if !ok || !now.Before(e.expires) {
		delete(c.m, group)
		return "", nil, false
	}
	return e.event, e.data, true
}
