package gwcompat

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func startRegister(t *testing.T, secret string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegister("127.0.0.1:2900", secret, quiet)
	go r.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

type lineConn struct {
	net.Conn
	r *bufio.Reader
}

func dialLine(t *testing.T, addr string) *lineConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineConn{c, bufio.NewReader(c)}
}

func (c *lineConn) line(t *testing.T) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("no line: %v (got %q)", err, s)
	}
	return s
}

func (c *lineConn) closedSilently(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c.r); err != nil || len(b) != 0 {
		t.Fatalf("want a silent close, got %q %v", b, err)
	}
}

func TestRegister(t *testing.T) {
	addr := startRegister(t, "abc")

	// GatewayClient's exact request and the reply it parses.
	gc := dialLine(t, addr)
	gc.Write([]byte(`{"event":"worker_connect","secret_key":"abc"}` + "\n"))
	if got := gc.line(t); got != `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900"]}`+"\n" {
		t.Fatalf("worker_connect: %q", got)
	}

	// A PHP gateway announcing itself (note the spaces PHP puts there) is
	// listed after this node and pushed to the worker connection.
	gw := dialLine(t, addr)
	gw.Write([]byte(`{"event":"gateway_connect", "address":"10.0.0.2:2300", "secret_key":"abc"}` + "\r\n"))
	if got := gc.line(t); got != `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900","10.0.0.2:2300"]}`+"\n" {
		t.Fatalf("after gateway_connect: %q", got)
	}
	gw.Close()
	if got := gc.line(t); got != `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900"]}`+"\n" {
		t.Fatalf("after the gateway left: %q", got)
	}
	gc.Write([]byte(`{"event":"ping"}` + "\n")) // ignored, connection stays

	wrong := dialLine(t, addr)
	wrong.Write([]byte(`{"event":"worker_connect","secret_key":"nope"}` + "\n"))
	wrong.closedSilently(t)

	bad := dialLine(t, addr)
	bad.Write([]byte("GET / HTTP/1.1\n"))
	if got := bad.line(t); !strings.HasPrefix(got, "Bad request for Register service. Request info(IP:") {
		t.Fatalf("bad request: %q", got)
	}
	bad.closedSilently(t)

	unknown := dialLine(t, addr)
	unknown.Write([]byte(`{"event":"nope","secret_key":"abc"}` + "\n"))
	unknown.closedSilently(t)

	gc.Write([]byte(`{"event":"worker_connect","secret_key":"abc"}` + "\n"))
	if got := gc.line(t); !strings.Contains(got, "127.0.0.1:2900") {
		t.Fatalf("worker connection broken by others: %q", got)
	}
}

func TestRegisterPeers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := NewRegister("127.0.0.1:2900", "", quiet)
	go r.Serve(ln)
	w := dialLine(t, ln.Addr().String())
	w.Write([]byte(`{"event":"worker_connect","secret_key":""}` + "\n"))
	if got, want := w.line(t), `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900"]}`+"\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A cluster node joins: attached workers hear of it at once.
	r.SetPeers([]string{"127.0.0.1:2901"})
	if got, want := w.line(t), `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900","127.0.0.1:2901"]}`+"\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	r.SetPeers([]string{"127.0.0.1:2901"}) // unchanged: nothing sent
	r.SetPeers(nil)                        // it left
	if got, want := w.line(t), `{"event":"broadcast_addresses","addresses":["127.0.0.1:2900"]}`+"\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
