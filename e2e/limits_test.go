package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/wsclient"
)

// TestHeartbeat: a silent client is closed after heartbeat.timeout; a client
// sending the text "ping" stays, gets the configured reply, and its pings
// never reach the app; protocol pings get pongs.
func TestHeartbeat(t *testing.T) {
	s := start(t, "[heartbeat]\ntimeout = \"1s\"\nreply = \"pong\"")
	silent, pinger := s.dial(), s.dial()

	begin := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				pinger.WriteText("ping")
			}
		}
	}()
	// The silent client gets a close frame saying why (3001) about 1 s in,
	// then the end of the connection.
	f, err := silent.ReadFrame(5 * time.Second)
	if err != nil || f.Op != ws.OpClose || f.CloseCode() != 3001 {
		t.Fatalf("silent client: %v, frame %v %d; want a close frame with 3001", err, f.Op, f.CloseCode())
	}
	if _, err := silent.ReadFrame(5 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent client's connection still open after its close frame: %v", err)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Fatalf("silent client closed after %s, before the 1s timeout", d)
	}
	// The pinger is still there after 2 s and got "pong" for each ping.
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	for range 3 {
		if m := pinger.read(); m != "pong" {
			t.Fatalf("ping reply %q", m)
		}
	}
	if s.call("isOnline", map[string]any{"client_id": pinger.ID}) != true {
		t.Fatal("pinging client was closed")
	}
	if s.call("isOnline", map[string]any{"client_id": silent.ID}) != false {
		t.Fatal("silent client still online")
	}
	// A protocol-level ping gets a pong with the same payload.
	pinger.WriteFrame(ws.OpPing, true, []byte("hb"))
	for {
		f, err := pinger.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("no pong: %v", err)
		}
		if f.Op == ws.OpPong {
			if string(f.Payload) != "hb" {
				t.Fatalf("pong payload %q", f.Payload)
			}
			break
		}
	}
}

func TestServerPing(t *testing.T) {
	s := start(t, "[heartbeat]\nserver_ping = '{\"type\":\"ping\"}'\nserver_ping_interval = \"300ms\"")
	c := s.dial()
	if m := c.read(); m != `{"type":"ping"}` {
		t.Fatalf("server ping %q", m)
	}
}

// TestOversizeMessage: a message over ws.max_message_size closes that client
// with 1009, also when it arrives in fragments; others are untouched.
func TestOversizeMessage(t *testing.T) {
	s := start(t, "[ws]\nmax_message_size = 1024")
	other := s.dial()
	for _, fragmented := range []bool{false, true} {
		t.Run(fmt.Sprint("fragmented=", fragmented), func(t *testing.T) {
			c := s.dial()
			if fragmented {
				c.WriteFrame(ws.OpText, false, make([]byte, 600))
				c.WriteFrame(ws.OpContinuation, true, make([]byte, 600))
			} else {
				c.WriteText(strings.Repeat("x", 1025))
			}
			f, err := c.ReadFrame(5 * time.Second)
			if err != nil || f.Op != ws.OpClose || f.CloseCode() != 1009 {
				t.Fatalf("want close 1009, got %+v %v", f, err)
			}
		})
	}
	// A message of exactly the limit is fine.
	c := s.dial()
	if err := c.WriteText(strings.Repeat("y", 1024)); err != nil {
		t.Fatal(err)
	}
	c.silent(200 * time.Millisecond)
	s.call("sendToAll", map[string]any{"data": "still here"})
	if m := other.read(); m != "still here" {
		t.Fatalf("other client got %q", m)
	}
	if m := c.read(); m != "still here" {
		t.Fatalf("client at the limit got %q", m)
	}
}

// TestProtocolErrors: a client breaking RFC 6455 is closed with the right
// code and nobody else notices.
func TestProtocolErrors(t *testing.T) {
	s := start(t, "")
	other := s.dial()
	cases := []struct {
		name string
		send func(c *client)
		code int
	}{
		{"unmasked frame", func(c *client) { ws.WriteFrame(c.Conn.Conn, ws.NewTextFrame([]byte("x"))) }, 1002},
		{"reserved opcode", func(c *client) { c.WriteFrame(ws.OpCode(3), true, nil) }, 1002},
		{"continuation first", func(c *client) { c.WriteFrame(ws.OpContinuation, true, []byte("x")) }, 1002},
		{"bad utf-8", func(c *client) { c.WriteFrame(ws.OpText, true, []byte{0xff, 0xfe}) }, 1007},
		{"client close", func(c *client) { c.WriteFrame(ws.OpClose, true, ws.NewCloseFrameBody(4000, "bye")) }, 4000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial()
			tc.send(c)
			f, err := c.ReadFrame(5 * time.Second)
			if err != nil || f.Op != ws.OpClose || f.CloseCode() != tc.code {
				t.Fatalf("want close %d, got %+v %v", tc.code, f, err)
			}
		})
	}
	// A handshake that is not WebSocket gets an HTTP error, not a crash.
	conn, err := net.Dial("tcp", s.addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := conn.Read(buf)
	conn.Close()
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Fatalf("plain HTTP got %q", buf[:n])
	}
	s.call("sendToAll", map[string]any{"data": "ok"})
	if m := other.read(); m != "ok" {
		t.Fatalf("other client got %q", m)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s := start(t, "[ws]\nhandshake_timeout = \"300ms\"")
	conn, err := net.Dial("tcp", s.addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\n") // and then nothing
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	begin := time.Now()
	_, err = conn.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("half handshake not dropped: %v", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("dropped after %s", d)
	}
}

// TestSlowClientIsCut: a client that stops reading is closed once its queue
// passes ws.max_send_buffer, while 100 others receive every message.
func TestSlowClientIsCut(t *testing.T) {
	s := start(t, "[ws]\nmax_send_buffer = 65536")
	// The slow client has a tiny receive buffer and never reads.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	raw, err := d.Dial("tcp", s.addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, _, err := ws.DefaultDialer.Upgrade(raw, mustURL("ws://"+s.addr("ws")+"/")); err != nil {
		t.Fatal(err)
	}

	const clients, messages = 100, 200
	payload := strings.Repeat("z", 32000) // 6.4 MB in all: past the kernel's socket buffers (up to 4 MiB) and the queue
	fast := make([]*client, clients)
	for i := range fast {
		fast[i] = s.dial()
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range fast {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range messages {
				m, err := c.ReadText(20 * time.Second)
				if err != nil {
					errs <- fmt.Errorf("client %d lost message %d: %v", i, n, err)
					return
				}
				if want := fmt.Sprintf("%d:%s", n, payload); m != want {
					errs <- fmt.Errorf("client %d message %d is %.20q", i, n, m)
					return
				}
			}
		}()
	}
	for n := range messages {
		s.call("sendToAll", map[string]any{"data": fmt.Sprintf("%d:%s", n, payload)})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.call("getAllClientIdCount", nil); got != float64(clients) {
		t.Fatalf("%v clients online; the slow one should be gone and the %d fast ones kept", got, clients)
	}
	if !strings.Contains(s.logs(), "send buffer full") {
		t.Fatal("no log line says why the slow client was closed")
	}
}

// TestGracefulShutdown: SIGTERM sends every client close 1001, answers an
// API call already in flight, and exits 0.
func TestGracefulShutdown(t *testing.T) {
	s := start(t, "")
	cs := []*client{s.dial(), s.dial(), s.dial()}
	// An API request whose body is still arriving when the signal comes.
	conn, err := net.Dial("tcp", s.addr("api"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"data":"last words"}`
	fmt.Fprintf(conn, "POST /api/sendToAll HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	time.Sleep(100 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	fmt.Fprint(conn, body[5:])
	reply := make([]byte, 512)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := conn.Read(reply)
	if !strings.Contains(string(reply[:n]), `{"result":3}`) {
		t.Fatalf("in-flight call got %q", reply[:n])
	}
	for i, c := range cs {
		if m := c.read(); m != "last words" {
			t.Fatalf("client %d got %q", i, m)
		}
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil || f.Op != ws.OpClose || f.CloseCode() != 1001 {
			t.Fatalf("client %d: want close 1001, got %+v %v", i, f, err)
		}
	}
	select {
	case err := <-s.exit:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		s.exit <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit")
	}
}

// TestStartupErrors: a bad config or an unusable address exits non-zero with
// one line naming the key.
func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		cfg  string
		env  []string
		want string
	}{
		{"port in use", "[ws]\nlisten = \"" + busy.Addr().String() + "\"", nil, "thinkgate: ws.listen: "},
		{"public api without key", "[api]\nlisten = \"0.0.0.0:0\"", nil, "thinkgate: api.listen: "},
		{"public text without key", "", []string{"THINKGATE_TEXT_LISTEN=0.0.0.0:0"}, "thinkgate: text.listen: "},
		{"bad value", "[ws]\nmax_message_size = -1", nil, "thinkgate: ws.max_message_size: "},
		{"unknown key", "[ws]\nport = 1", nil, "ws.port: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/t.toml"
			os.WriteFile(path, []byte(tc.cfg), 0o644)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "start", "-c", path)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %v, output %q; want one line containing %q", err, out, tc.want)
			}
		})
	}
}

// TestBindUIDFromFirstMessage: the seed push.php mode, where a client's first
// message is its uid.
func TestBindUIDFromFirstMessage(t *testing.T) {
	s := start(t, "[ws]\nbind_uid_from_first_message = true")
	c := s.dial()
	c.WriteText("user-7")
	waitFor(t, func() bool { return s.call("getUidByClientId", map[string]any{"client_id": c.ID}) == "user-7" })
	c.WriteText("not a uid") // later messages do not rebind
	time.Sleep(100 * time.Millisecond)
	if got := s.call("getUidByClientId", map[string]any{"client_id": c.ID}); got != "user-7" {
		t.Fatalf("second message rebound the uid to %v", got)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestAPIBodyLimit(t *testing.T) {
	s := start(t, "[api]\nmax_body_size = 1000")
	status, body := s.post("/api/sendToAll", map[string]any{"data": strings.Repeat("x", 1000)}, "")
	if status != 413 || !strings.Contains(string(body), `"too_large"`) {
		t.Fatalf("over the limit: %d %s", status, body)
	}
	if status, _ := s.post("/api/sendToAll", map[string]any{"data": strings.Repeat("x", 900)}, ""); status != 200 {
		t.Fatalf("under the limit: %d", status)
	}
}

// TestHandshakeHeaderLimit: a handshake larger than ws.max_header_size is
// refused with 431 and nobody else notices; a big but allowed one works.
func TestHandshakeHeaderLimit(t *testing.T) {
	s := start(t, "")
	other := s.dial()
	conn, err := net.Dial("tcp", s.addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 16<<10))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(reply), "HTTP/1.1 431 ") {
		t.Fatalf("oversize handshake got %q", reply)
	}
	s.call("sendToAll", map[string]any{"data": "fine"})
	if m := other.read(); m != "fine" {
		t.Fatalf("other client got %q", m)
	}
	// 12 KiB of cookies is under the 16 KiB default.
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {strings.Repeat("c", 12<<10)}})}
	c, _, _, err := d.Dial(context.Background(), "ws://"+s.addr("ws")+"/")
	if err != nil {
		t.Fatalf("12 KiB handshake refused: %v", err)
	}
	c.Close()
}

// TestConfigAndVersionCommands: `thinkgate config` prints the effective
// configuration, environment included, as TOML that `start -c` accepts.
func TestConfigAndVersionCommands(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "thinkgate ") {
		t.Fatalf("version: %q %v", out, err)
	}
	cmd := exec.Command(binary, "config")
	cmd.Dir = t.TempDir() // no thinkgate.toml there
	cmd.Env = append(os.Environ(), "THINKGATE_HEARTBEAT_REPLY=pong", "THINKGATE_WS_LISTEN=127.0.0.1:0",
		"THINKGATE_API_LISTEN=127.0.0.1:0", "THINKGATE_TEXT_LISTEN=127.0.0.1:0",
		"THINKGATE_GWCOMPAT_REGISTER=127.0.0.1:0", "THINKGATE_GWCOMPAT_INNER=127.0.0.1:0")
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[ws]\n", "max_send_buffer = 1048576\n", "reply = \"pong\"\n", "# Close a client that sends no frame"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("config output lacks %q:\n%s", want, out)
		}
	}
	// The printed file is a valid config: start with it, ping, get the reply set from the environment.
	path := t.TempDir() + "/printed.toml"
	os.WriteFile(path, append(out, []byte("\n")...), 0o644)
	s := startFile(t, path)
	c := s.dial()
	c.WriteText("ping")
	if m := c.read(); m != "pong" {
		t.Fatalf("config from `thinkgate config` did not keep heartbeat.reply: %q", m)
	}
}

// TestPushLargerThanSendBuffer: one push of 3 MB (over ws.max_send_buffer,
// 1 MiB by default, under api.max_body_size) reaches every client whole,
// and none is closed for it.
func TestPushLargerThanSendBuffer(t *testing.T) {
	s := start(t, "")
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = s.dial()
	}
	big := strings.Repeat("0123456789", 300_000)
	s.call("sendToAll", map[string]any{"data": big})
	for i, c := range clients {
		if m, err := c.ReadText(20 * time.Second); err != nil || m != big {
			t.Fatalf("client %d got %d bytes (%v), want %d", i, len(m), err, len(big))
		}
	}
	if got := s.call("getAllClientIdCount", nil); got != float64(n) {
		t.Fatalf("%v clients online after the push, want %d", got, n)
	}
	if strings.Contains(s.logs(), "send buffer full") {
		t.Fatal("a client was closed as slow for one big push")
	}
}

// TestHalfOpenFlood: 6,000 TCP connections that never send a handshake do
// not keep a real client out: it connects and gets its init message within
// a few seconds (the oldest silent handshakes are dropped to make room),
// on both transports.
func TestHalfOpenFlood(t *testing.T) {
	for _, kind := range []string{"epoll", "portable"} {
		t.Run(kind, func(t *testing.T) {
			s := start(t, fmt.Sprintf("[ws]\ntransport = %q", kind))
			var silent []net.Conn
			defer func() {
				for _, c := range silent {
					c.Close()
				}
			}()
			for range 6000 {
				c, err := net.DialTimeout("tcp", s.addr("ws"), 5*time.Second)
				if err != nil {
					break // the backlog is full: the flood is on
				}
				silent = append(silent, c)
			}
			if len(silent) < 4200 {
				t.Fatalf("only %d silent connections opened; the flood proves nothing", len(silent))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			began := time.Now()
			c, err := wsclient.Dial(ctx, "ws://"+s.addr("ws")+"/", nil)
			if err != nil {
				t.Fatalf("a real client during the flood of %d silent connections: %v", len(silent), err)
			}
			defer c.Close()
			if m, err := c.ReadText(3 * time.Second); err != nil || !strings.Contains(m, `"type":"init"`) {
				t.Fatalf("the real client's init message: %q %v", m, err)
			}
			t.Logf("figures: a real client got its init message %v after dialling, during %d silent connections", time.Since(began), len(silent))
		})
	}
}

// TestBackendPortLimits: the Text port holds at most text.max_connections
// (more wait in the kernel's queue, and get their answer once one leaves)
// and closes a connection silent for text.idle_timeout; the API closes an
// idle keep-alive connection after api.idle_timeout; meanwhile the API and
// the WebSocket listener keep accepting.
func TestBackendPortLimits(t *testing.T) {
	s := start(t, "[text]\nmax_connections = 50\nidle_timeout = \"2s\"\n[api]\nidle_timeout = \"1s\"")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 120 {
		c, err := net.Dial("tcp", s.addr("text"))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// The API and WebSocket clients are not held up by the 120.
	if n := s.call("getAllClientIdCount", nil); n != 0.0 {
		t.Fatalf("API during the Text flood: %v", n)
	}
	s.dial()
	// One of the 70 waiting gets no answer while 50 are in.
	late := held[len(held)-1]
	fmt.Fprintln(late, `{"method":"getAllClientIdCount"}`)
	late.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := late.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection past text.max_connections was answered: %v", err)
	}
	// The 50 in are closed after 2 s of silence; those waiting come in (50
	// more, silent for 2 s too) and the late one gets its answer.
	late.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(late).ReadString('\n')
	if err != nil || line != "1\n" {
		t.Fatalf("the late connection once the idle ones left: %q %v", line, err)
	}
	if _, err := held[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("an idle Text connection after text.idle_timeout: %v, want closed", err)
	}
	// An idle API keep-alive connection is closed after api.idle_timeout.
	api, err := net.Dial("tcp", s.addr("api"))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	fmt.Fprintf(api, "POST /api/getAllClientIdCount HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	api.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(api), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("API request: %v", err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	if _, err := api.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("an idle API keep-alive connection after api.idle_timeout: %v, want closed", err)
	}
}
