package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// KV is a small key-value store with expiry that every node of the cluster
// shares, in the cluster's Redis under its prefix (the Pusher protocol keeps
// the last event of cache- channels there). Calls are bounded by the
// cluster timeout.
type KV struct {
	rdb     *redis.Client
	prefix  string
	timeout time.Duration
}

// KV returns the cluster's shared store; name keeps its keys apart from
// other users'.
func (c *Cluster) KV(name string) *KV {
	return &KV{rdb: c.rdb, prefix: c.opts.Prefix + ":" + name + ":", timeout: c.opts.Timeout}
}

// Set stores val under key for ttl.
func (kv *KV) Set(key string, val []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), kv.timeout)
	defer cancel()
	return kv.rdb.Set(ctx, kv.prefix+key, val, ttl).Err()
}

// Get returns key's value and how long it is kept still; ok is false when
// there is none.
func (kv *KV) Get(key string) (val []byte, ttl time.Duration, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), kv.timeout)
	defer cancel()
	pipe := kv.rdb.Pipeline()
	get := pipe.Get(ctx, kv.prefix+key)
	pttl := pipe.PTTL(ctx, kv.prefix+key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, false, err
	}
	val, err = get.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	}
	return val, pttl.Val(), err == nil, err
}

// Redis is the cluster's Redis client, for stores that keep their own keys
// there under Prefix (message history).
func (c *Cluster) Redis() *redis.Client { return c.rdb }

// Prefix is the cluster's key prefix.
func (c *Cluster) Prefix() string { return c.opts.Prefix }

// Timeout bounds a call to the engine.
func (c *Cluster) Timeout() time.Duration { return c.opts.Timeout }
