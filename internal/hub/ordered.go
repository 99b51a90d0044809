package hub

import (
	"cmp"
	"net"
	"slices"
	"strings"
	"time"
)

// The accessors below return clients in the orders GatewayWorker's replies
// have (connection, bind and join order), for sources whose clients depend
// on that order (the GatewayWorker inner protocol).

// ConnID returns the connection number inside the client's id.
func (c *Client) ConnID() uint32 { return c.connID }

// Info is a snapshot of what a client is bound to.
type Info struct {
	UID     string   // "" when unbound
	Groups  []string // in join order
	Joined  bool     // whether the client ever joined a group
	Session Session
}

// Info returns a snapshot of the client's uid, groups and session.
func (c *Client) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	groups := make([]string, 0, len(c.groups))
	for g := range c.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b string) int { return cmp.Compare(c.groups[a], c.groups[b]) })
	return Info{UID: c.uid, Groups: groups, Joined: c.groups != nil, Session: slices.Clone(c.session)}
}

// Close sends the client a close frame with code and reason after what is
// queued, then closes its connection.
func (c *Client) Close(code int, reason string) { c.conn.Close(code, reason) }

// ConnectedAt is when the client connected.
func (c *Client) ConnectedAt() time.Time { return time.Unix(0, c.since) }

// RemoteAddr is the client's address, when its connection knows it.
func (c *Client) RemoteAddr() string {
	if ra, ok := c.conn.(interface{ RemoteAddr() net.Addr }); ok {
		if a := ra.RemoteAddr(); a != nil {
			return a.String()
		}
	}
	return ""
}

// ClientByConn returns the local client whose id holds connection number n.
func (h *Hub) ClientByConn(n uint32) *Client {
	return h.Client(h.ids.ID(n).String())
}

// Clients returns every client in connection order.
func (h *Hub) Clients() []*Client {
	cs := h.allClients()
	slices.SortFunc(cs, func(a, b *Client) int { return cmp.Compare(a.seq, b.seq) })
	return cs
}

// UIDClients returns the uid's clients in bind order.
func (h *Hub) UIDClients(uid string) []*Client { return h.uidClients(uid) }

// GroupClients returns the group's members in join order.
func (h *Hub) GroupClients(g string) []*Client { return h.groupClients(g) }

// GroupIDs returns every group with members, sorted.
func (h *Hub) GroupIDs() []string { return h.allGroups() }

// InStream reports whether the client receives stream: its uid's ("u:")
// or one of its groups' ("g:").
func (c *Client) InStream(stream string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if uid, ok := strings.CutPrefix(stream, "u:"); ok {
		return uid != "" && uid == c.uid
	}
	if g, ok := strings.CutPrefix(stream, "g:"); ok {
		_, in := c.groups[g]
		return in
	}
	return false
}
