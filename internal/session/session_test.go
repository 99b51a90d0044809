package session

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/events"
	"thinkgate/internal/hub"
	"thinkgate/internal/transport"
)

// fakeConn records what is queued on it and how it was closed.
type fakeConn struct {
	mu     sync.Mutex
	sent   [][]byte
	closed int
	remote net.Addr
}

func (c *fakeConn) Send(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, b)
	return c.closed == 0
}
func (c *fakeConn) Close(code int, _ string) { c.mu.Lock(); c.closed = code; c.mu.Unlock() }
func (c *fakeConn) Destroy()                 { c.Close(-1, "") }
func (c *fakeConn) RemoteAddr() net.Addr     { return c.remote }
func (c *fakeConn) SetIdleCode(uint16)       {}

// tagged is a protocol that refuses requests with "bad" in them and
// remembers which sessions it opened.
type tagged struct {
	name   string
	opened []*Session
}

type taggedPeer struct {
	Session
	closed bool
}

func (p *taggedPeer) Message(bool, []byte) { p.Admit() }
func (p *taggedPeer) Closed()              { p.closed = true; p.End() }

func (t *tagged) Check(r *transport.Request) *transport.Rejection {
	if r.Path() == "/"+t.name+"/bad" {
		return &transport.Rejection{Status: 400, Reason: t.name}
	}
	return nil
}

func (t *tagged) Open(s Session) transport.Peer {
	p := &taggedPeer{Session: s}
	t.opened = append(t.opened, &p.Session)
	return p
}

func newManager(t *testing.T, lim Limits) (*Manager, *tagged, *tagged) {
	t.Helper()
	ids, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	native, other := &tagged{name: "native"}, &tagged{name: "app"}
	m := NewManager(Options{Hub: hub.New(ids), Sink: events.Multi{}, Origins: "https://a.example",
		Limits: lim, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, native)
	m.Route("/app/", other)
	return m, native, other
}

// The path picks the protocol, for the checks and for the connection; the
// shared checks come first.
func TestManagerRoutesByPath(t *testing.T) {
	m, native, other := newManager(t, Limits{})
	for _, tc := range []struct {
		uri    string
		origin string
		status int // 0: accepted
		reason string
	}{
		{"/", "", 0, ""},
		{"/app/key?protocol=7", "https://a.example", 0, ""},
		{"/app/bad", "", 400, "app"},
		{"/native/bad", "", 400, "native"},
		{"/app/key", "https://evil.example", 403, "origin not allowed (auth.origins)"},
	} {
		r := &transport.Request{URI: tc.uri}
		if tc.origin != "" {
			r.Headers = []transport.Header{{Name: "Origin", Value: tc.origin}}
		}
		rej := m.Check(r)
		switch {
		case tc.status == 0 && rej != nil:
			t.Errorf("%s: refused %+v", tc.uri, rej)
		case tc.status != 0 && (rej == nil || rej.Status != tc.status || rej.Reason != tc.reason):
			t.Errorf("%s: got %+v, want %d %q", tc.uri, rej, tc.status, tc.reason)
		}
	}
	m.Open(&fakeConn{}, &transport.Request{URI: "/?token=x"})
	m.Open(&fakeConn{}, &transport.Request{URI: "/app/key"})
	m.Open(&fakeConn{}, &transport.Request{URI: "/application"})
	if len(native.opened) != 2 || len(other.opened) != 1 || other.opened[0].Request.URI != "/app/key" {
		t.Fatalf("native opened %d, app opened %d", len(native.opened), len(other.opened))
	}
}

// Per-address limits hold across protocols, and a connection that ends
// gives its place back.
func TestManagerSharedLimits(t *testing.T) {
	m, _, _ := newManager(t, Limits{ConnectionsPerIP: 2, MessageRate: 1})
	addr := &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 5000}
	req := func(uri string) *transport.Request { return &transport.Request{URI: uri, RemoteAddr: addr} }
	var peers []transport.Peer
	for _, uri := range []string{"/", "/app/key"} {
		if rej := m.Check(req(uri)); rej != nil {
			t.Fatalf("%s refused: %+v", uri, rej)
		}
		peers = append(peers, m.Open(&fakeConn{remote: addr}, req(uri)))
	}
	if rej := m.Check(req("/app/key")); rej == nil || rej.Status != 429 {
		t.Fatalf("third connection from one address: %+v, want 429", rej)
	}
	peers[0].Closed()
	if rej := m.Check(req("/app/key")); rej != nil {
		t.Fatalf("after one closed: %+v", rej)
	}
	// limits.message_rate = 1 allows a burst of 2; the third closes with 4008.
	p := peers[1].(*taggedPeer)
	for range 3 {
		p.Message(false, []byte("x"))
	}
	if c := p.Conn.(*fakeConn); c.closed != CloseRateLimited {
		t.Fatalf("closed with %d, want %d", c.closed, CloseRateLimited)
	}
}
