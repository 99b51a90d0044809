// Package clientid makes and reads GatewayWorker-layout client ids: 20
// lowercase hex characters encoding the node's IPv4, its inner port and a
// 32-bit connection counter, the layout GatewayWorker's client_id has.
package clientid

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// Len is the length of every client id.
const Len = 20

// ID is a decoded client id.
type ID struct {
	IP   [4]byte
	Port uint16
	Conn uint32
}

// String encodes the id as 20 lowercase hex characters.
func (id ID) String() string {
	var b [10]byte
	copy(b[:4], id.IP[:])
	binary.BigEndian.PutUint16(b[4:6], id.Port)
	binary.BigEndian.PutUint32(b[6:], id.Conn)
	return hex.EncodeToString(b[:])
}

// Parse decodes a client id; like PHP's pack('H*') it accepts upper case too.
func Parse(s string) (ID, error) {
	var id ID
	if len(s) != Len {
		return id, fmt.Errorf("client_id %q is invalid: want %d hex characters", s, Len)
	}
	var b [10]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return id, fmt.Errorf("client_id %q is invalid: %w", s, err)
	}
	copy(id.IP[:], b[:4])
	id.Port = binary.BigEndian.Uint16(b[4:6])
	id.Conn = binary.BigEndian.Uint32(b[6:])
	return id, nil
}

// Generator hands out ids for one node. Safe for concurrent use.
type Generator struct {
	ip      [4]byte
	port    uint16
	counter atomic.Uint32
}

// seedPerSecond is how far the counter's start moves per second of wall
// time, so a restarted node does not reuse the ids of its previous run as
// long as that run made fewer than this many connections per second of its
// life on average. The counter wraps every 2^32/64 s, about 2.1 years.
const seedPerSecond = 64

// NewGenerator returns a generator for the node at ip:port, seeded from now.
func NewGenerator(ip string, port int, now time.Time) (*Generator, error) {
	parsed := net.ParseIP(ip).To4()
	if parsed == nil {
		return nil, fmt.Errorf("client ids need an IPv4 address, got %q", ip)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("client ids need a port number, got %d", port)
	}
	g := &Generator{port: uint16(port)}
	copy(g.ip[:], parsed)
	g.counter.Store(uint32(now.Unix() * seedPerSecond))
	return g, nil
}

// ID returns this node's id for connection number n.
func (g *Generator) ID(n uint32) ID { return ID{IP: g.ip, Port: g.port, Conn: n} }

// Next returns a new id. Connection number 0 is never used; the counter
// wraps around, so callers skip ids still in use.
func (g *Generator) Next() ID {
	for {
		if n := g.counter.Add(1); n != 0 {
			return ID{IP: g.ip, Port: g.port, Conn: n}
		}
	}
}
