package gwcompat

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
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

// TestRegisterPingDoesNotAuthenticate: pings before the secret keep no
// connection past the authentication timeout, as in GatewayWorker.
func TestRegisterPingDoesNotAuthenticate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegister("127.0.0.1:2900", "abc", quiet)
	r.authTimeout = 300 * time.Millisecond
	go r.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	c := dialLine(t, ln.Addr().String())
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				c.Write([]byte(`{"event":"ping"}` + "\n"))
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("a connection that only pings: %v after 3 s, want closed after 300 ms", err)
	}
}

// TestRegisterBroadcastToAWorkerThatNeverReads: address lists go to every
// worker from its own goroutine with a write deadline: a worker that never
// reads holds up nobody and is closed; the others get the newest list.
func TestRegisterBroadcastToAWorkerThatNeverReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegister("127.0.0.1:2900", "abc", quiet)
	r.writeTimeout = 300 * time.Millisecond
	go r.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stuck, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	stuck.Write([]byte(`{"event":"worker_connect","secret_key":"abc"}` + "\n")) // and never a read
	good := dialLine(t, ln.Addr().String())
	good.Write([]byte(`{"event":"worker_connect","secret_key":"abc"}` + "\n"))
	good.line(t)
	final := make(chan bool, 1)
	go func() { // the good worker reads all along
		for {
			good.SetReadDeadline(time.Now().Add(10 * time.Second))
			l, err := good.r.ReadString('\n')
			if err != nil {
				final <- false
				return
			}
			if strings.Contains(l, `"10.9.9.9:2900"`) {
				final <- true
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // both attached
	big := make([]string, 2000)        // 1 MB lists
	for i := range big {
		big[i] = fmt.Sprintf("10.0.%d.%d:%0480d", i/250, i%250, i)
	}
	done := make(chan struct{})
	go func() {
		for i := range 20 { // 20 MB to the worker that never reads
			r.SetPeers(big[:len(big)-i%2])
		}
		r.SetPeers([]string{"10.9.9.9:2900"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SetPeers is held up by a worker that never reads")
	}
	if !<-final {
		t.Fatal("the worker that reads did not get the newest list")
	}
}
