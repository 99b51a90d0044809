package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBus is the Bus on Redis pub/sub: each node subscribes to one channel,
// prefix:bus:<node>, that carries both requests to it and replies to its
// own requests. PUBLISH answers how many subscribers got a message, so a
// request to a node that is gone fails at once with ErrNoNode.
type redisBus struct {
	rdb    *redis.Client
	prefix string
	log    *slog.Logger

	self   string
	ps     *redis.PubSub
	seq    atomic.Uint64
	mu     sync.Mutex
	wait   map[uint64]chan []byte
	cancel context.CancelFunc
	done   chan struct{}
}

func newRedisBus(rdb *redis.Client, prefix string, log *slog.Logger) *redisBus {
	return &redisBus{rdb: rdb, prefix: prefix, log: log, wait: map[uint64]chan []byte{}}
}

func (b *redisBus) channel(node string) string { return b.prefix + ":bus:" + node }

func (b *redisBus) Serve(ctx context.Context, self string, handle func([]byte) []byte) error {
	b.self = self
	b.ps = b.rdb.Subscribe(ctx, b.channel(self))
	// The first reply is the subscription's confirmation: from then on
	// requests reach this node.
	if _, err := b.ps.Receive(ctx); err != nil {
		b.ps.Close()
		return fmt.Errorf("redis: subscribing to %s: %w", b.channel(self), err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	go b.loop(lctx, handle)
	return nil
}

func (b *redisBus) loop(ctx context.Context, handle func([]byte) []byte) {
	defer close(b.done)
	for {
		msg, err := b.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// go-redis reconnects and resubscribes on the next Receive.
			b.log.Debug("bus receive failed; reconnecting", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue
		}
		kind, seq, from, body, err := parseEnvelope([]byte(m.Payload))
		if err != nil {
			b.log.Warn("dropping a corrupt bus message", "channel", m.Channel, "bytes", len(m.Payload))
			continue
		}
		if kind == kindReply {
			b.mu.Lock()
			ch := b.wait[seq]
			delete(b.wait, seq)
			b.mu.Unlock()
			if ch != nil {
				ch <- body
			}
			continue
		}
		go func() {
			reply := appendEnvelope(nil, kindReply, seq, b.self, handle(body))
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.rdb.Publish(pctx, b.channel(from), reply).Err(); err != nil {
				b.log.Debug("bus reply failed", "to", from, "err", err)
			}
		}()
	}
}

func (b *redisBus) Request(ctx context.Context, node string, req []byte) ([]byte, error) {
	seq := b.seq.Add(1)
	ch := make(chan []byte, 1)
	b.mu.Lock()
	b.wait[seq] = ch
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(b.wait, seq)
		b.mu.Unlock()
	}
	n, err := b.rdb.Publish(ctx, b.channel(node), appendEnvelope(nil, kindRequest, seq, b.self, req)).Result()
	if err != nil {
		forget()
		return nil, fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
	}
	if n == 0 {
		forget()
		return nil, ErrNoNode
	}
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("%w: node %s did not answer: %v", ErrUnavailable, node, ctx.Err())
	}
}

func (b *redisBus) Listening(ctx context.Context, node string) (bool, error) {
	n, err := b.rdb.PubSubNumSub(ctx, b.channel(node)).Result()
	if err != nil {
		return false, fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
	}
	return n[b.channel(node)] > 0, nil
}

func (b *redisBus) Close() error {
	if b.ps == nil {
		return nil
	}
	err := b.ps.Close()
	b.cancel()
	<-b.done
	return err
}
