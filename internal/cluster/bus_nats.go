package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// natsBus is the Bus on core NATS request/reply: each node subscribes to
// prefix.bus.<node>; NATS answers "no responders" at once for a node that
// is gone.
type natsBus struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
	sub    *nats.Subscription
}

// dialNATS connects with automatic reconnection and no reconnect buffer, so
// that a request made while the server is away fails at once.
func dialNATS(url, name string, log *slog.Logger) (*nats.Conn, error) {
	return nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
	)
}

func (b *natsBus) subject(node string) string { return b.prefix + ".bus." + node }

func (b *natsBus) Serve(_ context.Context, self string, handle func([]byte) []byte) error {
	sub, err := b.nc.Subscribe(b.subject(self), func(m *nats.Msg) {
		go func() {
			if err := m.Respond(handle(m.Data)); err != nil {
				b.log.Debug("bus reply failed", "err", err)
			}
		}()
	})
	if err != nil {
		return fmt.Errorf("nats: subscribing to %s: %w", b.subject(self), err)
	}
	b.sub = sub
	// Once the server has seen the subscription, requests reach this node.
	if err := b.nc.Flush(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	return nil
}

func (b *natsBus) Request(ctx context.Context, node string, req []byte) ([]byte, error) {
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("%w: nats: %s", ErrUnavailable, b.nc.Status())
	}
	msg, err := b.nc.RequestWithContext(ctx, b.subject(node), req)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNoNode
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("%w: node %s did not answer in time", ErrUnavailable, node)
	case err != nil:
		return nil, fmt.Errorf("%w: nats: %v", ErrUnavailable, err)
	}
	return msg.Data, nil
}

func (b *natsBus) Listening(ctx context.Context, node string) (bool, error) {
	_, err := b.Request(ctx, node, nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNoNode):
		return false, nil
	}
	return false, err
}

func (b *natsBus) Close() error {
	if b.sub != nil {
		b.sub.Unsubscribe()
	}
	b.nc.Close()
	return nil
}
