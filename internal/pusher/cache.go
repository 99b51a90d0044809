package pusher

import (
	"sync"
	"time"
)

// Cache keeps the last event of each cache- channel for TTL, for the
// clients that subscribe next. It is this node's: in a cluster, an event
// published through another node is cached there.
type Cache struct {
	TTL time.Duration
	Max int // channels kept at most (0: 100,000); past it the oldest expiring go first

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	event   string
	data    []byte
	expires time.Time
}

// Put keeps event and its data JSON as group's last event.
func (c *Cache) Put(group, event string, data []byte, now time.Time) {
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
	event, data, ok = c.Get(group, now)
	if ok {
		c.mu.Lock()
		ttl = c.m[group].expires.Sub(now)
		c.mu.Unlock()
	}
	return event, data, ttl, ok
}

// Get returns group's last event, if one is kept and not expired.
func (c *Cache) Get(group string, now time.Time) (event string, data []byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[group]
	if !ok || !now.Before(e.expires) {
		delete(c.m, group)
		return "", nil, false
	}
	return e.event, e.data, true
}
