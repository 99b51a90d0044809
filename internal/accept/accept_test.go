package accept

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails like a process out of file descriptors, then works.
type flakyListener struct {
	results []error
	conns   int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if len(l.results) == 0 {
		return nil, net.ErrClosed
	}
	err := l.results[0]
	l.results = l.results[1:]
	if err != nil {
		return nil, err
	}
	a, _ := net.Pipe()
	l.conns++
	return a, nil
}
func (l *flakyListener) Close() error   { return nil }
func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{} }

func TestLoopRetriesAfterEMFILE(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Err: syscall.EMFILE}
	ln := &flakyListener{results: []error{emfile, emfile, nil, emfile, nil}}
	handled := 0
	err := Loop(ln, slog.New(slog.NewTextHandler(io.Discard, nil)), func(nc net.Conn) { handled++; nc.Close() })
	if err != nil || handled != 2 {
		t.Fatalf("Loop returned %v after %d connections; want nil after 2", err, handled)
	}
}

// TestLimit: the third connection waits until one of the first two closes,
// full is told, and Close ends a waiting Accept.
func TestLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var fulls atomic.Int32
	ln := Limit(inner, 2, func() { fulls.Add(1) })
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted over the limit of 2")
	case <-time.After(200 * time.Millisecond):
	}
	if fulls.Load() != 1 {
		t.Fatalf("full called %d times, want 1", fulls.Load())
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	second.Close()
	ln.Close()
	for range accepted {
	}
}
