//go:build !linux

package websocket

import (
	"errors"
	"log/slog"

	"thinkgate/internal/transport"
)

// NewEpoll is Linux-only; elsewhere use NewPortable.
func NewEpoll(Options, transport.Handler, *slog.Logger) (Transport, error) {
	return nil, errors.New("the epoll transport needs Linux; use ws.transport = \"portable\"")
}
