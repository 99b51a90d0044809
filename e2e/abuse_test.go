package e2e

import (
	"bufio"
	bin "encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"thinkgate/internal/gwcompat"
	"thinkgate/internal/procstat"
)

// The abuse suite: each attack of issue 15 replayed against the real
// binary, with what must hold while it runs: the server's memory and
// descriptors stay within bounds, and a legitimate caller is still served.
// (The attacks on a single listener's protocol live beside it: the inner
// port's and the Register's in internal/gwcompat, the transports' in
// internal/transport; reload, big pushes, the half-open flood and the
// backend caps in ops_test.go and limits_test.go.)

// openFDs counts the server's open descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(ents)
}

// innerCall makes one GatewayClient call on the inner port (connect packet
// with the secret, then an isOnline for connection 1) and returns the reply.
func innerCall(addr, secret string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	hello := gwcompat.Packet{Cmd: gwcompat.CmdGatewayClientConnect, Flag: 1, Body: []byte(fmt.Sprintf(`{"secret_key":%q}`, secret))}
	ask := gwcompat.Packet{Cmd: gwcompat.CmdIsOnline, ConnID: 1, Flag: 1}
	c.Write(ask.Append(hello.Append(nil)))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var l [4]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return "", err
	}
	b := make([]byte, bin.BigEndian.Uint32(l[:]))
	_, err = io.ReadFull(c, b)
	return string(b), err
}

// TestAbuseInnerPortBeforeAuth: 40 connections that each announce and send
// a 10 MB packet without the secret are cut at the header: the server's
// memory does not follow (it grew by 400 MB before), and a GatewayClient
// call with the secret is answered meanwhile.
func TestAbuseInnerPortBeforeAuth(t *testing.T) {
	s := start(t, "[gwcompat]\nsecret = \"abc\"")
	pid := s.cmd.Process.Pid
	before := procstat.RSS(pid)
	junk := make([]byte, 10<<20)
	bin.BigEndian.PutUint32(junk[0:4], uint32(len(junk)))
	junk[4] = gwcompat.CmdIsOnline
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.addr("inner"))
			if err != nil {
				return
			}
			defer c.Close()
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.Write(junk) // cut short when the server closes
		}()
	}
	began := time.Now()
	if got, err := innerCall(s.addr("inner"), "abc"); err != nil || got != "i:0;" {
		t.Fatalf("a GatewayClient call during the attack: %q %v", got, err)
	}
	took := time.Since(began)
	wg.Wait()
	t.Logf("figures: a GatewayClient call during the attack took %v; RSS %d -> %d MB", took, before>>20, procstat.RSS(pid)>>20)
	if grew := procstat.RSS(pid) - before; grew > 64<<20 {
		t.Fatalf("RSS grew by %d MB under 40 unauthenticated 10 MB packets", grew>>20)
	}
}

// TestAbuseTextPortFlood: 2,000 idle connections to the Text port hold at
// most text.max_connections of the server's descriptors (the rest wait in
// the kernel's queue), and a push from the API reaches a WebSocket client
// meanwhile. Before, 20,000 of them took every descriptor and the API and
// WebSocket listeners stopped accepting.
func TestAbuseTextPortFlood(t *testing.T) {
	s := start(t, "[text]\nmax_connections = 200")
	pid := s.cmd.Process.Pid
	base := openFDs(t, pid)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 2000 {
		c, err := net.Dial("tcp", s.addr("text"))
		if err != nil {
			break
		}
		held = append(held, c)
	}
	if len(held) < 1000 {
		t.Fatalf("only %d connections opened; the flood proves nothing", len(held))
	}
	time.Sleep(200 * time.Millisecond)
	t.Logf("figures: %d descriptors before, %d under %d Text connections", base, openFDs(t, pid), len(held))
	if n := openFDs(t, pid); n > base+200+20 {
		t.Fatalf("%d descriptors open under %d Text connections; the cap is 200 (%d before)", n, len(held), base)
	}
	c := s.dial()
	began := time.Now()
	s.call("sendToAll", map[string]any{"data": "through the flood"})
	if m, err := c.ReadText(3 * time.Second); err != nil || m != "through the flood" {
		t.Fatalf("a push during the flood: %q %v after %v", m, err, time.Since(began))
	}
	t.Logf("figures: a push during the flood arrived in %v", time.Since(began))
}

// TestAbuseLargeSessionLists: 20 sessions of 2 MB, listed again and again
// six at once over the HTTP API and the inner port, are written as they are
// encoded: the server's memory stays near what the sessions themselves take
// (20 sessions of 4 MB made it grow by 400 MB and keep it when each answer
// was built whole).
func TestAbuseLargeSessionLists(t *testing.T) {
	s := start(t, "[api]\nmax_body_size = 16777216")
	pid := s.cmd.Process.Pid
	big := strings.Repeat("s", 2<<20)
	var clients []*client
	for range 20 {
		c := s.dial()
		clients = append(clients, c)
		s.call("setSession", map[string]any{"client_id": c.ID, "session": map[string]any{"blob": big}})
	}
	before := procstat.RSS(pid)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				status, body := s.post("/api/getAllClientSessions", map[string]any{}, "")
				if status != 200 || len(body) < 20*(2<<20) {
					errs <- fmt.Errorf("HTTP API: %d, %d bytes", status, len(body))
				}
				return
			}
			c, err := net.Dial("tcp", s.addr("inner"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			ask := gwcompat.Packet{Cmd: gwcompat.CmdGetAllClientSessions, Flag: 1}
			c.Write(ask.Append(nil))
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			var l [4]byte
			if _, err := io.ReadFull(r, l[:]); err != nil {
				errs <- err
				return
			}
			if n, err := io.Copy(io.Discard, io.LimitReader(r, int64(bin.BigEndian.Uint32(l[:])))); err != nil || n < 20*(2<<20) {
				errs <- fmt.Errorf("inner port: %d bytes, %v", n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("figures: RSS %d MB with the sessions, %d MB after the lists", before>>20, procstat.RSS(pid)>>20)
	if grew := procstat.RSS(pid) - before; grew > 160<<20 {
		t.Fatalf("RSS grew by %d MB answering 6 lists of 40 MB of sessions at once", grew>>20)
	}
	if got, err := innerCall(s.addr("inner"), ""); err != nil || got != "i:0;" && got != "i:1;" {
		t.Fatalf("a GatewayClient call after the lists: %q %v", got, err)
	}
}
