// Package wsclient is a minimal WebSocket client over gobwas/ws, used by the
// end-to-end tests and the load tool. It exposes raw frames so callers can
// see close codes and control frames as a browser's network layer does.
package wsclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gobwas/ws"
)

// Conn is one client connection.
type Conn struct {
	net.Conn
	r io.Reader
}

// Dial connects to url (ws://host:port/path). When local is not nil the
// connection is made from that address, to spread many clients over
// 127.0.0.x source addresses.
func Dial(ctx context.Context, url string, local net.Addr) (*Conn, error) {
	return DialHeader(ctx, url, local, nil)
}

// DialHeader is Dial with extra handshake request headers (Cookie, Origin, ...).
func DialHeader(ctx context.Context, url string, local net.Addr, h http.Header) (*Conn, error) {
	return DialWith(ctx, url, Options{Local: local, Header: h})
}

// Options are the less common dial settings.
type Options struct {
	Local  net.Addr    // source address
	Header http.Header // extra handshake headers
	TLS    *tls.Config // for wss:// URLs
}

// DialWith dials with opts.
func DialWith(ctx context.Context, url string, opts Options) (*Conn, error) {
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{LocalAddr: opts.Local}
		return nd.DialContext(ctx, network, addr)
	}, TLSConfig: opts.TLS}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &Conn{Conn: nc, r: nc}
	if br != nil {
		c.r = io.MultiReader(br, nc)
	}
	return c, nil
}

// Frame is one frame from the server.
type Frame struct {
	Op      ws.OpCode
	Fin     bool
	Payload []byte
}

// CloseCode returns the status code of a close frame (0 when none).
func (f Frame) CloseCode() int {
	code, _ := ws.ParseCloseFrameData(f.Payload)
	return int(code)
}

// ReadFrame reads one frame, waiting at most timeout (0: no limit).
func (c *Conn) ReadFrame(timeout time.Duration) (Frame, error) {
	if timeout > 0 {
		c.SetReadDeadline(time.Now().Add(timeout))
	}
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return Frame{}, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return Frame{}, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	return Frame{Op: h.OpCode, Fin: h.Fin, Payload: p}, nil
}

// ReadText reads frames until a text or binary one and returns its payload;
// a close frame is returned as an error naming its code.
func (c *Conn) ReadText(timeout time.Duration) (string, error) {
	for {
		f, err := c.ReadFrame(timeout)
		if err != nil {
			return "", err
		}
		switch f.Op {
		case ws.OpText, ws.OpBinary:
			return string(f.Payload), nil
		case ws.OpClose:
			return "", fmt.Errorf("close frame %d", f.CloseCode())
		}
	}
}

// WriteFrame sends one masked frame, as every client must.
func (c *Conn) WriteFrame(op ws.OpCode, fin bool, p []byte) error {
	f := ws.NewFrame(op, fin, append([]byte(nil), p...))
	return ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(f))
}

// WriteText sends one text message.
func (c *Conn) WriteText(s string) error { return c.WriteFrame(ws.OpText, true, []byte(s)) }
