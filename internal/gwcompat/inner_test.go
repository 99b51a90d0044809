package gwcompat

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/session"
)

// recConn records the payloads the hub queues on a client.
type recConn struct {
	mu        sync.Mutex
	got       []string
	closed    int
	destroyed bool
}

func (r *recConn) Send(frame []byte) bool {
	f, err := ws.ReadFrame(bytes.NewReader(frame))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.got = append(r.got, "raw:"+string(frame))
	} else {
		r.got = append(r.got, string(f.Payload))
	}
	return true
}
func (r *recConn) Close(code int, _ string) { r.mu.Lock(); r.closed = code; r.mu.Unlock() }
func (r *recConn) Destroy()                 { r.mu.Lock(); r.destroyed = true; r.mu.Unlock() }
func (r *recConn) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a hub on 127.0.0.1:2999 whose first clients get connection ids
// 1, 2, 3, as in a capture from a real GatewayWorker, behind an
// inner listener with secret "abc".
type fixture struct {
	t     *testing.T
	hub   *hub.Hub
	conns []*recConn
	cls   []*hub.Client
	addr  string
}

func newFixture(t *testing.T, clients int, secret string) *fixture {
	g, err := clientid.NewGenerator("127.0.0.1", 2999, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, hub: hub.New(g)}
	for range clients {
		r := &recConn{}
		f.conns = append(f.conns, r)
		f.cls = append(f.cls, f.hub.Connect(r, session.NativeWebSocket))
	}
	if f.cls[0].ID != "7f0000010bb700000001" {
		t.Fatalf("first client id %s", f.cls[0].ID)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := NewInner(f.hub, secret, NewWorkers(net.IPv4(127, 0, 0, 1), 2999, 7272, quiet), quiet)
	go in.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	f.addr = ln.Addr().String()
	return f
}

// pkt decodes a captured packet written as hex with spaces.
func pkt(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// build makes a packet the way GatewayClient does (unused header fields 0).
func build(cmd byte, conn uint32, flag byte, ext, body string) []byte {
	p := Packet{Cmd: cmd, ConnID: conn, Flag: flag, Ext: []byte(ext), Body: []byte(body)}
	return p.Append(nil)
}

const auth = "00000030 ca 00000000 0000 00000000 0000 00000000 01 0000 00000000" // + {"secret_key":"abc"}

func authPacket() []byte { return append(pkt(auth), `{"secret_key":"abc"}`...) }

// exchange writes the packets in one write, as GatewayClient does, then
// reads replies until n have arrived or the server closes.
func (f *fixture) exchange(wire []byte, n int) []string {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	c.Write(wire)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var out []string
	for range n {
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			f.t.Fatalf("reply %d: %v", len(out), err)
		}
		b := make([]byte, binary.BigEndian.Uint32(l[:]))
		io.ReadFull(r, b)
		out = append(out, string(b))
	}
	// Nothing else may follow: fire-and-forget commands produce no bytes.
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if extra, _ := r.ReadByte(); extra != 0 {
		f.t.Fatalf("unexpected bytes after %d replies", n)
	}
	return out
}

// TestCapturedGatewayClientPackets sends the packets captured from the real
// GatewayClient 3.1.1 (secretKey 'abc') and checks what clients get and the
// replies byte for byte.
func TestCapturedGatewayClientPackets(t *testing.T) {
	f := newFixture(t, 3, "abc")
	var wire []byte
	add := func(b []byte) { wire = append(wire, authPacket()...); wire = append(wire, b...) }
	add(append(pkt("00000021 05 00000000 0000 00000000 0000 00000001 01 0000 00000000"), "hello"...))
	add(append(pkt("0000002e 05 00000000 0000 00000000 0000 00000001 00 0000 00000000"), `a:1:{s:1:"a";i:1;}`...))
	add(append(pkt("00000020 0c 00000000 0000 00000000 0000 00000001 01 0000 00000004"), "1001"...))
	add(append(pkt("0000001e 14 00000000 0000 00000000 0000 00000001 01 0000 00000002"), "g1"...))
	add(append(pkt("0000002a 0e 00000000 0000 00000000 0000 00000000 01 0000 0000000b"), `[1001,"u2"]msg`...))
	add(build(CmdSendToGroup, 0, 1, `{"group":["g1",7],"exclude":null}`, "gm"))
	add(build(CmdSendToGroup, 0, 3, `{"group":["g1"],"exclude":{"2":2}}`, "\x81\x03raw"))
	add(build(CmdSendToAll, 0, 1, `{"exclude":{"2":2}}`, "all"))
	add(build(CmdSendToAll, 0, 1, `{"connections":{"1":1,"2":2}}`, "some"))
	add(build(CmdSetSession, 1, 1, `a:1:{s:1:"x";i:1;}`, ""))
	add(build(CmdUpdateSession, 1, 1, `a:1:{s:1:"y";s:1:"z";}`, ""))
	add(pkt("0000001c 0b 00000000 0000 00000000 0000 00000001 01 0000 00000000")) // isOnline(c1)
	add(build(CmdGetSessionByClientId, 1, 1, "", ""))
	add(build(CmdGetClientIdByUid, 0, 1, "1001", ""))
	add(build(CmdSelect, 0, 1, `{"fields":["uid"],"where":[]}`, ""))
	add(build(CmdSelect, 0, 1, `{"fields":["uid"],"where":{"connection_id":{"1":1}}}`, ""))
	add(build(CmdSelect, 0, 1, `{"fields":["session","uid","groups"],"where":{"groups":["g1"]}}`, ""))
	add(build(CmdGetClientCountByGroup, 0, 1, "", ""))
	add(build(CmdGetClientCountByGroup, 0, 1, "g1", ""))
	add(build(CmdGetGroupIdList, 0, 1, "", ""))
	add(build(CmdGetAllClientSessions, 0, 1, "", ""))
	add(build(CmdBatchGetClientIdByUid, 0, 1, `["1001","nobody"]`, ""))
	add(build(CmdBatchGetClientCountByGroup, 0, 1, `["g1","123","none"]`, ""))
	add(build(CmdGetClientSessionsByGroup, 0, 1, "none", ""))
	add(build(CmdIsOnline, 99, 1, "", ""))
	add(build(CmdGetSessionByClientId, 99, 1, "", ""))
	add(build(CmdGetSessionByClientId, 3, 1, "", ""))
	add(append(pkt("0000001f 07 00000000 0000 00000000 0000 00000003 01 0000 00000000"), "bye"...)) // closeClient(c3,'bye')

	got := f.exchange(wire, 16)
	want := []string{
		`i:1;`,
		`a:2:{s:1:"x";i:1;s:1:"y";s:1:"z";}`,
		`a:1:{i:0;i:1;}`,
		`a:3:{i:1;a:1:{s:3:"uid";s:4:"1001";}i:2;a:1:{s:3:"uid";N;}i:3;a:1:{s:3:"uid";N;}}`,
		`a:1:{i:1;a:1:{s:3:"uid";s:4:"1001";}}`,
		`a:1:{i:1;a:3:{s:7:"session";s:34:"a:2:{s:1:"x";i:1;s:1:"y";s:1:"z";}";s:3:"uid";s:4:"1001";s:6:"groups";a:1:{s:2:"g1";s:2:"g1";}}}`,
		`i:3;`,
		`i:1;`,
		`a:1:{i:0;s:2:"g1";}`,
		`a:3:{i:1;s:34:"a:2:{s:1:"x";i:1;s:1:"y";s:1:"z";}";i:2;s:0:"";i:3;s:0:"";}`,
		`a:2:{i:1001;a:1:{i:0;i:1;}s:6:"nobody";a:0:{}}`,
		`a:3:{s:2:"g1";i:1;i:123;i:0;s:4:"none";i:0;}`,
		`a:0:{}`,
		`i:0;`,
		`N;`,
		`a:0:{}`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	c1 := strings.Join(f.conns[0].messages(), "|")
	if c1 != `hello|{"a":1}|msg|gm|raw|all|some` {
		t.Errorf("client 1 got %s", c1)
	}
	if c2 := strings.Join(f.conns[1].messages(), "|"); c2 != "some" {
		t.Errorf("client 2 got %s", c2)
	}
	if c3 := strings.Join(f.conns[2].messages(), "|"); c3 != "all|bye" || f.conns[2].closed != 1000 {
		t.Errorf("client 3 got %s, closed %d", c3, f.conns[2].closed)
	}
}

func TestKickWithoutMessageAndDestroy(t *testing.T) {
	f := newFixture(t, 2, "")
	wire := append(pkt("0000001e 07 00000000 0000 00000000 0000 00000001 00 0000 00000000"), "N;"...) // closeClient(c1)
	wire = append(wire, pkt("0000001c 08 00000000 0000 00000000 0000 00000002 01 0000 00000000")...)  // destoryClient(c2)
	wire = append(wire, build(CmdIsOnline, 1, 1, "", "")...)
	f.exchange(wire, 1)
	f.conns[0].mu.Lock()
	closed := f.conns[0].closed
	f.conns[0].mu.Unlock()
	if len(f.conns[0].messages()) != 0 || closed != 1000 {
		t.Fatalf("kick without message: %v closed %d", f.conns[0].messages(), closed)
	}
	f.conns[1].mu.Lock()
	defer f.conns[1].mu.Unlock()
	if !f.conns[1].destroyed {
		t.Fatal("destroy did not destroy")
	}
}

func TestEmptyUidAndGroupAreIgnored(t *testing.T) {
	f := newFixture(t, 1, "")
	wire := build(CmdBindUid, 1, 1, "0", "")
	wire = append(wire, build(CmdJoinGroup, 1, 1, "", "")...)
	wire = append(wire, build(CmdSelect, 0, 1, `{"fields":["uid","groups"],"where":[]}`, "")...)
	if got := f.exchange(wire, 1)[0]; got != `a:1:{i:1;a:2:{s:3:"uid";N;s:6:"groups";N;}}` {
		t.Fatalf("got %s", got)
	}
}

func TestAuthAndFraming(t *testing.T) {
	f := newFixture(t, 1, "abc")
	cases := []struct {
		name string
		wire []byte
	}{
		{"no auth", build(CmdIsOnline, 1, 1, "", "")},
		{"wrong key", append(build(CmdGatewayClientConnect, 0, 1, "", `{"secret_key":"nope"}`), build(CmdIsOnline, 1, 1, "", "")...)},
		{"pack_len under 28", pkt("0000001b 0b 00000000 0000 00000000 0000 00000001 01 0000 00000000")},
		{"pack_len over 10 MiB", append(authPacket(), pkt("00a00001 0b 00000000 0000 00000000 0000 00000001 01 0000 00000000")...)},
		{"ext_len past the packet", append(authPacket(), pkt("0000001c 0b 00000000 0000 00000000 0000 00000001 01 0000 00000005")...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tc.wire)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			if err != nil || len(b) != 0 {
				t.Fatalf("want a silent close, got %q %v", b, err)
			}
		})
	}
	// With no secret configured, a 202 carrying one is a mismatch too.
	open := newFixture(t, 1, "")
	c, _ := net.Dial("tcp", open.addr)
	defer c.Close()
	c.Write(append(authPacket(), build(CmdIsOnline, 1, 1, "", "")...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("keyed 202 against a keyless gateway answered %q", b)
	}
	// An unknown command is ignored and the connection stays usable.
	if got := open.exchange(append(build(99, 0, 1, "", ""), build(CmdIsOnline, 1, 1, "", "")...), 1); got[0] != "i:1;" {
		t.Fatalf("after an unknown command: %q", got)
	}
}

// FuzzInner: any bytes on the inner port (after auth) never crash the
// server, and every reply is well framed.
func FuzzInner(f *testing.F) {
	f.Add(build(CmdSelect, 0, 1, `{"fields":["uid","groups","session"],"where":{"uid":[1],"groups":["g"],"connection_id":{"1":1}}}`, ""))
	f.Add(build(CmdSendToAll, 0, 0, `{"connections":[1,"x",null]}`, `a:1:{i:0;O:1:"X":0:{}}`))
	f.Add(build(CmdUpdateSession, 1, 1, `a:1:{s:1:"a";a:0:{}}`, ""))
	f.Add(build(CmdBatchGetClientIdByUid, 0, 1, `{"a":1,"b":[2]}`, ""))
	f.Add(pkt("0000001c 0b 00000000 0000 00000000 0000 00000001 01 0000 00000000"))
	g, _ := clientid.NewGenerator("127.0.0.1", 2999, time.Unix(0, 0))
	h := hub.New(g)
	h.Connect(&recConn{}, session.NativeWebSocket)
	in := NewInner(h, "", NewWorkers(net.IPv4(127, 0, 0, 1), 2999, 7272, quiet), quiet)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			p, err := ReadPacket(r, MaxPacket)
			if err != nil {
				return
			}
			in.handle(p)
		}
	})
}

// TestPeerThatNeverReads: a GatewayClient connection that asks for 8 MB of
// replies and never reads them holds up nobody: the next caller is answered
// at once, and the reader's connection is closed after WriteTimeout.
func TestPeerThatNeverReads(t *testing.T) {
	f := newFixture(t, 1, "abc")
	session := `s:1000000:"` + strings.Repeat("s", 1_000_000) + `";`
	f.exchange(append(authPacket(), build(CmdSetSession, 1, 1, session, "")...), 0)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	hog, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	wire := authPacket()
	for range 8 {
		wire = append(wire, build(CmdGetSessionByClientId, 1, 1, "", "")...)
	}
	hog.Write(wire) // and never a read
	time.Sleep(100 * time.Millisecond)
	for i := range 3 {
		if got := f.exchange(append(authPacket(), build(CmdIsOnline, 1, 1, "", "")...), 1); got[0] != "i:1;" {
			t.Fatalf("caller %d behind the peer that never reads got %q", i, got)
		}
	}
}

// TestBeforeAuth: with a secret, a connection gets a small packet cap and a
// short deadline until its connect packet: a 10 MB packet announced before
// it is refused at the header (nothing allocated), and a connection that
// says nothing is closed after AuthTimeout.
func TestBeforeAuth(t *testing.T) {
	f := newFixture(t, 1, "abc")
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := build(CmdIsOnline, 1, 1, "", "")
	binary.BigEndian.PutUint32(big[0:4], 10<<20)
	c.Write(big)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("a 10 MB packet before auth: want a silent close, got %q %v", b, err)
	}
	// A packet just under the cap after auth is still read (MaxPacket applies then).
	body := strings.Repeat("x", PreAuthMaxPacket)
	if got := f.exchange(append(append(authPacket(), build(CmdSendToOne, 1, 1, "", body)...), build(CmdIsOnline, 1, 1, "", "")...), 1); got[0] != "i:1;" {
		t.Fatalf("a %d-byte send after auth: %q", len(body), got)
	}
	idle, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	began := time.Now()
	idle.SetReadDeadline(time.Now().Add(AuthTimeout + 5*time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a connection that never authenticates: %v, want closed", err)
	}
	if d := time.Since(began); d < AuthTimeout-time.Second {
		t.Fatalf("closed after %v, before AuthTimeout (%v)", d, AuthTimeout)
	}
}

// TestLargeSessionListIsNotBuiltWhole: getAllClientSessions over 20 sessions
// of 1 MB writes them as they are: the server allocates a small fraction of
// the 20 MB answer, where building it whole took four copies of it.
func TestLargeSessionListIsNotBuiltWhole(t *testing.T) {
	f := newFixture(t, 20, "")
	session := `s:1000000:"` + strings.Repeat("s", 1_000_000) + `";`
	var wire []byte
	for i := range 20 {
		wire = append(wire, build(CmdSetSession, uint32(i+1), 1, session, "")...)
	}
	f.exchange(wire, 0)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.Write(build(CmdGetAllClientSessions, 0, 1, "", ""))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var l [4]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatal(err)
	}
	n := int64(binary.BigEndian.Uint32(l[:]))
	if got, err := io.CopyBuffer(io.Discard, io.LimitReader(c, n), make([]byte, 64<<10)); err != nil || got != n || n < 20_000_000 {
		t.Fatalf("read %d of %d bytes: %v", got, n, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 5<<20 {
		t.Fatalf("answering %d bytes of sessions allocated %d bytes", n, alloc)
	}
}
