package phpworker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

// channel is how frames travel between Go and one worker process.
type channel interface {
	started()                                                         // the process runs: close what only the child needed
	connect(timeout time.Duration) (io.WriteCloser, io.Reader, error) // Go's ends, once the worker is there
	abort()                                                           // the process did not start
	closeRead()                                                       // the process has exited
}

func openChannel(kind string, cmd *exec.Cmd) (channel, error) {
	switch kind {
	case "pipes":
		return openPipes(cmd)
	case "tcp":
		return openTCP(cmd)
	}
	return nil, fmt.Errorf("worker channel %q: want pipes or tcp", kind)
}

// pipeChannel is two pipes handed to the child as fd 3 (Go to PHP) and
// fd 4 (PHP to Go).
type pipeChannel struct {
	toPHP, goWrites, goReads, fromPHP *os.File
}

func openPipes(cmd *exec.Cmd) (channel, error) {
	toPHP, goWrites, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("worker pipes: %w", err)
	}
	goReads, fromPHP, err := pipe()
	if err != nil {
		toPHP.Close()
		goWrites.Close()
		return nil, fmt.Errorf("worker pipes: %w", err)
	}
	cmd.ExtraFiles = []*os.File{toPHP, fromPHP} // fd 3 and fd 4
	return &pipeChannel{toPHP, goWrites, goReads, fromPHP}, nil
}

func (p *pipeChannel) started() {
	p.toPHP.Close()
	p.fromPHP.Close()
}

func (p *pipeChannel) connect(time.Duration) (io.WriteCloser, io.Reader, error) {
	return p.goWrites, p.goReads, nil
}

func (p *pipeChannel) abort() {
	for _, f := range []*os.File{p.toPHP, p.goWrites, p.goReads, p.fromPHP} {
		f.Close()
	}
}

func (p *pipeChannel) closeRead() { p.goReads.Close() }

// tcpChannel is a loopback connection the worker makes back to a port of
// this process, opened for it alone: the first line it sends must be the
// one-time token it was given in its environment (THINKGATE_CHANNEL,
// THINKGATE_CHANNEL_TOKEN); any other connection to the port is closed.
type tcpChannel struct {
	ln    net.Listener
	token string

	mu   sync.Mutex
	conn net.Conn
	done bool
}

func openTCP(cmd *exec.Cmd) (channel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("worker channel: %w", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	t := &tcpChannel{ln: ln, token: hex.EncodeToString(b)}
	cmd.Env = append(cmd.Env, "THINKGATE_CHANNEL=tcp://"+ln.Addr().String(), "THINKGATE_CHANNEL_TOKEN="+t.token)
	return t, nil
}

func (t *tcpChannel) started() {}

func (t *tcpChannel) connect(timeout time.Duration) (io.WriteCloser, io.Reader, error) {
	deadline := time.Now().Add(timeout)
	t.ln.(*net.TCPListener).SetDeadline(deadline)
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return nil, nil, fmt.Errorf("worker channel: the worker did not connect: %w", err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(t.token)+1)
		_, err = io.ReadFull(c, got)
		if err != nil || subtle.ConstantTimeCompare(got, []byte(t.token+"\n")) != 1 {
			c.Close() // not our worker
			continue
		}
		c.SetReadDeadline(time.Time{})
		t.ln.Close()
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.done { // the process exited meanwhile
			c.Close()
			return nil, nil, fmt.Errorf("worker channel: the worker exited")
		}
		t.conn = c
		return c, c, nil
	}
}

func (t *tcpChannel) abort() { t.ln.Close() }

func (t *tcpChannel) closeRead() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	t.ln.Close()
	if t.conn != nil {
		t.conn.Close()
	}
}
