//go:build !linux

package transport

import (
	"errors"
	"log/slog"
)

// NewEpoll is Linux-only; elsewhere use NewPortable.
func NewEpoll(Options, Handler, *slog.Logger) (Transport, error) {
	return nil, errors.New("the epoll transport needs Linux; use ws.transport = \"portable\"")
}
