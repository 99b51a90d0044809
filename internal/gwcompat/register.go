package gwcompat

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"thinkgate/internal/accept"
	"thinkgate/internal/lines"
)

// registerAuthTimeout is how long a Register connection may stay silent
// after connecting, as in GatewayWorker.
const registerAuthTimeout = 10 * time.Second

// registerMaxLine bounds one Register line; real events are a few hundred bytes.
const registerMaxLine = 64 << 10

// Register is GatewayWorker's Register service: a directory of
// gateway inner addresses. This node's own inner address is always listed
// first; PHP gateways that announce themselves with gateway_connect are
// listed after it.
type Register struct {
	secret string
	self   string
	log    *slog.Logger
	// authTimeout and writeTimeout are registerAuthTimeout and WriteTimeout;
	// tests shorten them.
	authTimeout, writeTimeout time.Duration

	mu       sync.Mutex
	gateways []registered           // in registration order
	peers    []string               // the other nodes of a cluster
	workers  map[*registerConn]bool // connections that sent worker_connect
	lists    uint64                 // address lists sent so far (see send)
	conns    accept.Tracker
}

type registered struct {
	conn *registerConn
	addr string
}

type registerConn struct {
	nc      net.Conn
	timeout time.Duration // per write
	mu      sync.Mutex    // serializes writes
	sent    uint64        // the newest address list written
}

// writeLine writes one line within the write timeout; a peer that does not
// take it is closed.
func (c *registerConn) writeLine(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLocked(append(b[:len(b):len(b)], '\n')) // a copy: b may be shared
}

// writeLocked writes line, which ends in a newline.
func (c *registerConn) writeLocked(line []byte) {
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.nc.Write(line); err != nil {
		c.nc.Close()
	}
}

// sendList writes address list number n (a line; shared, never modified) unless a newer one went out
// already: lists are sent from goroutines (one slow worker must not hold up
// the others), so they may arrive here out of order.
func (c *registerConn) sendList(b []byte, n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= c.sent {
		return
	}
	c.sent = n
	c.writeLocked(b)
}

// NewRegister returns a Register that advertises self (this node's
// "lan_ip:inner_port") and checks secret.
func NewRegister(self, secret string, log *slog.Logger) *Register {
	return &Register{self: self, secret: secret, log: log, workers: map[*registerConn]bool{},
		authTimeout: registerAuthTimeout, writeTimeout: WriteTimeout}
}

// Addresses returns the advertised inner addresses, this node's first.
func (r *Register) Addresses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addressesLocked()
}

func (r *Register) addressesLocked() []string {
	out := []string{}
	if r.self != "" {
		out = append(out, r.self)
	}
	for _, p := range r.peers {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, g := range r.gateways {
		if !slices.Contains(out, g.addr) {
			out = append(out, g.addr)
		}
	}
	return out
}

// SetPeers sets the inner addresses of the cluster's other live nodes,
// listed after this node's own; attached workers are told when it changes.
func (r *Register) SetPeers(addrs []string) {
	r.mu.Lock()
	same := slices.Equal(r.peers, addrs)
	r.peers = slices.Clone(addrs)
	r.mu.Unlock()
	if !same {
		r.broadcastAll()
	}
}

// Serve accepts Register connections until Shutdown.
func (r *Register) Serve(ln net.Listener) error {
	r.conns.Listen(ln)
	return accept.Loop(ln, r.log, func(nc net.Conn) {
		if !r.conns.Add(nc) {
			nc.Close()
			return
		}
		go func() {
			defer r.conns.Done(nc)
			r.serveConn(&registerConn{nc: nc, timeout: r.writeTimeout})
		}()
	})
}

// Shutdown stops accepting and closes every connection.
func (r *Register) Shutdown(ctx context.Context) error {
	if err := r.conns.Shutdown(ctx, nil); err != nil {
		return fmt.Errorf("register shutdown: %w", err)
	}
	return nil
}

func (r *Register) serveConn(c *registerConn) {
	defer r.forget(c)
	defer c.nc.Close()
	br := bufio.NewReaderSize(c.nc, 4096)
	c.nc.SetReadDeadline(time.Now().Add(r.authTimeout)) // lifted once a secret-checked event arrives
	for {
		line, err := lines.Read(br, registerMaxLine)
		if err != nil {
			if errors.Is(err, lines.ErrTooLong) || isTimeout(err) {
				r.log.Warn("register: closing connection", "remote", c.nc.RemoteAddr(), "err", err)
			}
			return
		}
		var ev struct {
			Event     string `json:"event"`
			SecretKey string `json:"secret_key"`
			Address   string `json:"address"`
		}
		if json.Unmarshal(line, &ev) != nil || ev.Event == "" {
			c.writeLine(fmt.Appendf(nil, "Bad request for Register service. Request info(IP:%s, Request Buffer:%s). See http://doc2.workerman.net/register-auth-timeout.html",
				c.nc.RemoteAddr(), truncate(line, 200)))
			return
		}
		if ev.Event == "ping" { // keeps an attached peer's connection; lifts no deadline
			continue
		}
		if ev.SecretKey != r.secret {
			r.log.Warn("register: secret key mismatch; closing", "remote", c.nc.RemoteAddr(), "event", ev.Event)
			return
		}
		switch ev.Event {
		case "worker_connect":
			c.nc.SetReadDeadline(time.Time{})
			r.mu.Lock()
			r.workers[c] = true
			r.lists++
			msg, n := broadcast(r.addressesLocked()), r.lists
			r.mu.Unlock()
			c.sendList(msg, n)
		case "gateway_connect":
			if ev.Address == "" {
				r.log.Warn("register: gateway_connect without address; closing", "remote", c.nc.RemoteAddr())
				return
			}
			c.nc.SetReadDeadline(time.Time{})
			r.mu.Lock()
			r.gateways = append(r.gateways, registered{conn: c, addr: ev.Address})
			r.mu.Unlock()
			r.broadcastAll()
		default:
			r.log.Warn("register: unknown event; closing", "remote", c.nc.RemoteAddr(), "event", ev.Event)
			return
		}
	}
}

func (r *Register) forget(c *registerConn) {
	r.mu.Lock()
	delete(r.workers, c)
	before := len(r.gateways)
	r.gateways = slices.DeleteFunc(r.gateways, func(g registered) bool { return g.conn == c })
	changed := len(r.gateways) != before
	r.mu.Unlock()
	if changed {
		r.broadcastAll()
	}
}

// broadcastAll sends the current list to every worker connection, each
// from its own goroutine, so a worker that does not read delays only itself
// (and is closed after the write timeout).
func (r *Register) broadcastAll() {
	r.mu.Lock()
	r.lists++
	msg, n := broadcast(r.addressesLocked()), r.lists
	workers := make([]*registerConn, 0, len(r.workers))
	for w := range r.workers {
		workers = append(workers, w)
	}
	r.mu.Unlock()
	for _, w := range workers {
		go w.sendList(msg, n)
	}
}

func broadcast(addrs []string) []byte {
	b, _ := json.Marshal(struct {
		Event     string   `json:"event"`
		Addresses []string `json:"addresses"`
	}{"broadcast_addresses", addrs})
	return append(b, '\n')
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
