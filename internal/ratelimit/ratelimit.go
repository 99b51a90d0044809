// Package ratelimit holds the token buckets and per-key counts behind
// thinkgate's rate limits: new connections per second and connections at
// once per client address, messages per second per connection, requests
// per second per API key.
package ratelimit

import (
	"sync"
	"time"
)

// Bucket is a token bucket: it holds up to burst tokens, refills at rate
// per second, and Allow takes one. The zero Bucket is full on first use.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes a token if one is left at now; rate <= 0 always allows.
func (b *Bucket) Allow(now time.Time, rate, burst float64) bool {
	if rate <= 0 {
		return true
	}
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Keyed keeps a bucket and a count of what is open for each key (a client
// address, an API key), safe for concurrent use. Past MaxKeys keys, those
// with nothing open are forgotten (their buckets start full again), so an
// attacker with many addresses costs memory only for what it holds open.
type Keyed struct {
	mu      sync.Mutex
	keys    map[string]*entry
	sweepAt int // the size at which keys with nothing open are forgotten next
	MaxKeys int // 0: 100,000
}

type entry struct {
	b    Bucket
	open int
}

func (k *Keyed) get(key string) *entry {
	if k.keys == nil {
		k.keys = map[string]*entry{}
	}
	e := k.keys[key]
	if e == nil {
		limit := k.MaxKeys
		if limit <= 0 {
			limit = 100_000
		}
		if len(k.keys) >= max(k.sweepAt, limit) {
			for key, e := range k.keys {
				if e.open == 0 {
					delete(k.keys, key)
				}
			}
			// Keys that all hold something open stay; the next sweep waits
			// until the map has doubled, so a flood of addresses that each
			// keep a connection costs one pass per doubling, not one per key.
			k.sweepAt = 2 * len(k.keys)
		}
		e = &entry{}
		k.keys[key] = e
	}
	return e
}

// Allow takes a token from key's bucket (rate per second, burst tokens).
func (k *Keyed) Allow(key string, now time.Time, rate, burst float64) bool {
	if rate <= 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.get(key).b.Allow(now, rate, burst)
}

// Open counts one more open thing for key unless limit are open already
// (limit <= 0: no limit); every true needs a Close.
func (k *Keyed) Open(key string, limit int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.get(key)
	if limit > 0 && e.open >= limit {
		return false
	}
	e.open++
	return true
}

// Close counts one thing of key closed.
func (k *Keyed) Close(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.keys[key]; e != nil && e.open > 0 {
		e.open--
	}
}

// Count is the number of things open for key.
func (k *Keyed) Count(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.keys[key]; e != nil {
		return e.open
	}
	return 0
}

// Len is the number of keys held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}
