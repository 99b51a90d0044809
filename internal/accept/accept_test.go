package accept

import (
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
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
