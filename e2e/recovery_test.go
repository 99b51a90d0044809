package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"thinkgate/internal/testenv"
)

// v2msg is a version 2 message envelope.
type v2msg struct {
	Type    string
	Data    string
	Binary  bool
	Stream  string
	Offset  uint64
	Epoch   string
	Streams map[string]struct {
		Recovered bool
		Offset    uint64
		Epoch     string
		Missed    int
		Reason    string
	}
}

func readV2(t *testing.T, c *client) v2msg {
	t.Helper()
	raw := c.read()
	var m v2msg
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("not a v2 envelope: %s", raw)
	}
	return m
}

// TestRecoveryProtocol: a version 2 client gets messages with their
// positions; after a disconnect, a new connection of the same uid asks for
// what it missed and gets it, in order, then the recovered marker; a wrong
// epoch, a position past the kept history or a stream it does not receive
// get recovered: false with the reason. A version 1 client sees nothing new.
func TestRecoveryProtocol(t *testing.T) {
	s := start(t, "[history]\nuids = \"*\"\ngroups = \"room-\"\nsize = 5")
	old := s.dial()
	a := s.dialPath("/?v=2", nil)
	for _, c := range []*client{old, a} {
		s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "alice"})
	}
	s.call("joinGroup", map[string]any{"client_id": a.ID, "group": "room-1"})
	s.call("sendToUid", map[string]any{"uid": "alice", "data": "1"})
	s.call("sendToUid", map[string]any{"uid": "alice", "data": map[string]any{"n": 2}})
	s.call("sendToGroup", map[string]any{"group": "room-1", "data": "r1"})
	if got := old.read(); got != "1" {
		t.Fatalf("a version 1 client got %q", got)
	}
	m1, m2, r1 := readV2(t, a), readV2(t, a), readV2(t, a)
	if m1.Type != "message" || m1.Data != "1" || m1.Stream != "u:alice" || m1.Offset != 1 || m1.Epoch == "" {
		t.Fatalf("first message %+v", m1)
	}
	if m2.Data != `{"n":2}` || m2.Offset != 2 || m2.Epoch != m1.Epoch {
		t.Fatalf("second message %+v", m2)
	}
	if r1.Stream != "g:room-1" || r1.Offset != 1 || r1.Data != "r1" {
		t.Fatalf("group message %+v", r1)
	}
	a.Close()
	for i := 3; i <= 5; i++ {
		s.call("sendToUid", map[string]any{"uid": "alice", "data": fmt.Sprint(i)})
	}
	s.call("sendToAll", map[string]any{"data": "no position"})

	b := s.dialPath("/?v=2", nil)
	s.call("bindUid", map[string]any{"client_id": b.ID, "uid": "alice"})
	req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{
		"u:alice":  map[string]any{"offset": 2, "epoch": m1.Epoch},
		"g:room-1": map[string]any{"offset": 1, "epoch": r1.Epoch},
		"u:bob":    map[string]any{"offset": 1, "epoch": m1.Epoch},
	}})
	b.WriteText(string(req))
	var got []string
	var done v2msg
	for {
		m := readV2(t, b)
		if m.Type == "recovered" {
			done = m
			break
		}
		got = append(got, fmt.Sprintf("%s@%d", m.Data, m.Offset))
	}
	if strings.Join(got, " ") != "3@3 4@4 5@5" {
		t.Fatalf("replayed %v, want 3, 4 and 5 in order", got)
	}
	if st := done.Streams["u:alice"]; !st.Recovered || st.Offset != 5 || st.Missed != 3 || st.Epoch != m1.Epoch {
		t.Fatalf("u:alice: %+v", st)
	}
	if st := done.Streams["g:room-1"]; st.Recovered || !strings.Contains(st.Reason, "does not receive") {
		t.Fatalf("g:room-1 (not joined on this connection): %+v", st)
	}
	if st := done.Streams["u:bob"]; st.Recovered || st.Reason == "" {
		t.Fatalf("u:bob: %+v", st)
	}
	for _, tc := range []struct {
		offset uint64
		epoch  string
		why    string
	}{{2, "another-epoch", "epoch"}, {0, m1.Epoch, "kept"}} {
		req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{"u:alice": map[string]any{"offset": tc.offset, "epoch": tc.epoch}}})
		if tc.offset == 0 { // size 5: push two more so offsets 1 and 2 are dropped
			s.call("sendToUid", map[string]any{"uid": "alice", "data": "6"})
			s.call("sendToUid", map[string]any{"uid": "alice", "data": "7"})
			readV2(t, b)
			readV2(t, b)
		}
		b.WriteText(string(req))
		m := readV2(t, b)
		if st := m.Streams["u:alice"]; m.Type != "recovered" || st.Recovered || !strings.Contains(st.Reason, tc.why) {
			t.Fatalf("offset %d epoch %s: %+v", tc.offset, tc.epoch, m)
		}
	}
}

// TestRecoveryAcrossNodes: with a cluster, history is in Redis: a client
// that saw offsets 1-2 on one node and reconnects to another gets 3-4 there.
func TestRecoveryAcrossNodes(t *testing.T) {
	e := startEngine(t, "redis")
	hist := "\n[history]\nuids = \"*\"\n"
	a := start(t, e.config()+"[gwcompat]\nlan_ip = \"127.0.0.1\""+hist)
	b := start(t, e.config()+"[gwcompat]\nlan_ip = \"127.0.0.2\""+hist)
	c := a.dialPath("/?v=2", nil)
	a.call("bindUid", map[string]any{"client_id": c.ID, "uid": "carol"})
	b.call("sendToUid", map[string]any{"uid": "carol", "data": "1"})
	a.call("sendToUid", map[string]any{"uid": "carol", "data": "2"})
	readV2(t, c)
	last := readV2(t, c)
	if last.Offset != 2 || last.Data != "2" {
		t.Fatalf("second message %+v", last)
	}
	c.Close()
	b.call("sendToUid", map[string]any{"uid": "carol", "data": "3"})
	a.call("sendToUid", map[string]any{"uid": "carol", "data": "4"})
	d := b.dialPath("/?v=2", nil)
	b.call("bindUid", map[string]any{"client_id": d.ID, "uid": "carol"})
	req, _ := json.Marshal(map[string]any{"type": "recover", "streams": map[string]any{"u:carol": map[string]any{"offset": 2, "epoch": last.Epoch}}})
	d.WriteText(string(req))
	var got []string
	for {
		m := readV2(t, d)
		if m.Type == "recovered" {
			if st := m.Streams["u:carol"]; !st.Recovered || st.Offset != 4 {
				t.Fatalf("recovered %+v", st)
			}
			break
		}
		got = append(got, m.Data)
	}
	if strings.Join(got, ",") != "3,4" {
		t.Fatalf("replayed %v on the other node, want 3,4", got)
	}
}

// recoveryPage uses thinkgate.js as served by the ws listener, and reports
// every number it shows, every recovery and every open.
const recoveryPage = `<!doctype html>
<title>thinkgate.js recovery</title>
<script src="http://%[1]s/thinkgate.js"></script>
<ol id="got"></ol>
<script>
function report(kind, data) { fetch('/report', {method: 'POST', body: JSON.stringify({kind: kind, data: data})}); }
const shown = [];
const tg = new Thinkgate('ws://%[1]s/', {token: %[2]q, minDelay: 100, maxDelay: 400, heartbeat: 1000, transports: [%[3]s]});
let said = false;
tg.on('open', (e) => {
  report('open', e.clientId);
  report('transport', e.transport);
  if (!said) { said = true; tg.send('hello from the page over ' + e.transport); }
});
tg.on('recovered', (e) => report('recovered', e.stream + ' ' + e.recovered + ' ' + e.missed));
tg.on('message', (data, meta) => {
  const li = document.createElement('li');
  li.textContent = data;
  document.getElementById('got').appendChild(li);
  shown.push(data);
  report('shown', Array.from(document.querySelectorAll('#got li'), (li) => li.textContent).join(','));
});
</script>`

// TestBrowserRecovery: the page first gets the two messages kept in its
// uid's offline inbox; then numbered messages pushed to the uid while the
// page's connection is cut by the server (destroyClient, closeClient) reach
// the page once each, in order; after a restart (history in memory starts
// over) the page is told recovered: false and goes on with new messages.
// What the page sends reaches the app (a webhook). The same over
// WebSocket and over Server-Sent Events.
func TestBrowserRecovery(t *testing.T) {
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) { browserRecovery(t, transport) })
	}
}

func browserRecovery(t *testing.T, transport string) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	hooks := make(chan string, 100)
	hookServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Events []struct{ Type, Data string }
		}
		json.NewDecoder(r.Body).Decode(&b)
		for _, e := range b.Events {
			if e.Type == "message" {
				hooks <- e.Data
			}
		}
	}))
	defer hookServer.Close()
	wsAddr, apiAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf("[ws]\nlisten = %q\n[api]\nlisten = %q\n[auth]\nsecret = %q\n[history]\nuids = \"*\"\n"+
		"[events]\nsink = \"webhook\"\nwebhook_url = %q\nwebhook_secret = \"s\"\n", wsAddr, apiAddr, authSecret, hookServer.URL)
	s := start(t, cfg)
	tok := sign(map[string]any{"sub": "reader"}, authSecret)
	reports := newReports(t)
	// Two messages for the uid before the page ever connects: its inbox.
	for _, m := range []string{"i1", "i2"} {
		s.call("sendToUid", map[string]any{"uid": "reader", "data": m, "store": true})
	}
	openInChromium(t, chromium, reports.servePage(fmt.Sprintf(recoveryPage, wsAddr, tok, "'"+transport+"'"), nil))
	numbers := func(to int) string { return "i1,i2," + numbered(to) } // the inbox first
	push := func(from, to int) { pushNumbers(t, s, "reader", from, to) }
	clientID := reports.await("open", func(string) bool { return true })
	reports.await("transport", func(got string) bool { return got == transport })
	select {
	case got := <-hooks:
		if got != "hello from the page over "+transport {
			t.Fatalf("the app heard %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("what the page sent never reached the app")
	}
	push(1, 10)
	reports.await("shown", func(s string) bool { return s == numbers(10) })
	// Cut by the server at once; 11-20 go out while the page is away.
	s.call("destroyClient", map[string]any{"client_id": clientID})
	push(11, 20)
	clientID = reports.await("open", func(id string) bool { return id != clientID })
	reports.await("recovered", func(s string) bool { return strings.HasPrefix(s, "u:reader true") })
	push(21, 25)
	reports.await("shown", func(s string) bool { return s == numbers(25) })
	// A clean close; pushes go on while the page reconnects.
	s.call("closeClient", map[string]any{"client_id": clientID})
	push(26, 40)
	clientID = reports.await("open", func(id string) bool { return id != clientID })
	reports.await("shown", func(s string) bool { return s == numbers(40) })

	// A restart: history in memory starts over with a new epoch.
	s.cmd.Process.Signal(syscall.SIGTERM)
	err := <-s.exit
	s.exit <- err // for the harness's cleanup
	s = start(t, cfg)
	reports.await("open", func(id string) bool { return id != clientID })
	reports.await("recovered", func(s string) bool { return s == "u:reader false 0" })
	push(41, 42)
	reports.await("shown", func(s string) bool { return s == numbers(42) })
}

// TestThinkgateJSServed: the ws listener serves thinkgate.js (UMD), the ES
// module and its TypeScript declarations to plain GETs, and still refuses
// any other request that is not a WebSocket handshake.
func TestThinkgateJSServed(t *testing.T) {
	s := start(t, "")
	for _, tc := range []struct{ path, ctype, has string }{
		{"/thinkgate.js", "text/javascript; charset=utf-8", "root.Thinkgate = factory()"},
		{"/thinkgate.mjs", "text/javascript; charset=utf-8", "export { Thinkgate as default, Thinkgate };"},
		{"/thinkgate.d.ts", "text/plain; charset=utf-8", "export declare class Thinkgate"},
	} {
		resp, err := http.Get("http://" + s.addr("ws") + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(body), tc.has) {
			t.Errorf("%s: %d %q, %d bytes", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	resp, err := http.Get("http://" + s.addr("ws") + "/other.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("/other.js: %d, want 400 (not a handshake)", resp.StatusCode)
	}
	// The listener still upgrades WebSocket clients.
	s.dial()
}

// TestBrowserRecoveryNodeDies: a page given both nodes of a cluster (history
// in Redis) loses its node to kill -9 while numbered messages go on through
// the other node; it reconnects there and shows every number once, in order.
// Over WebSocket and over Server-Sent Events.
func TestBrowserRecoveryNodeDies(t *testing.T) {
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) { browserRecoveryNodeDies(t, transport) })
	}
}

func browserRecoveryNodeDies(t *testing.T, transport string) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	e := startEngine(t, "redis")
	addrA, addrB := freeAddr(t), freeAddr(t)
	node := func(ws, lan string) *server {
		return start(t, fmt.Sprintf("%s[ws]\nlisten = %q\n[gwcompat]\nlan_ip = %q\n[auth]\nsecret = %q\n[history]\nuids = \"*\"\n", e.config(), ws, lan, authSecret))
	}
	a, b := node(addrA, "127.0.0.1"), node(addrB, "127.0.0.2")
	tok := sign(map[string]any{"sub": "mover"}, authSecret)
	reports := newReports(t)
	html := strings.Replace(fmt.Sprintf(recoveryPage, addrA, tok, "'"+transport+"'"), fmt.Sprintf("'ws://%s/'", addrA), fmt.Sprintf("['ws://%s/', 'ws://%s/']", addrA, addrB), 1)
	openInChromium(t, chromium, reports.servePage(html, nil))
	first := reports.await("open", func(string) bool { return true })
	// While presence still names the dead node (until cluster.expiry) a
	// send answers 503 cluster_unavailable, but history has kept it.
	push := func(from, to int) {
		for i := from; i <= to; i++ {
			if status, body := b.post("/api/sendToUid", map[string]any{"uid": "mover", "data": fmt.Sprint(i)}, ""); status != 200 && status != 503 {
				t.Fatalf("sendToUid: %d %s", status, body)
			}
		}
	}
	want := numbered
	push(1, 5)
	reports.await("shown", func(s string) bool { return s == want(5) })
	a.cmd.Process.Kill() // the page's node dies without a word
	push(6, 15)
	reports.await("open", func(id string) bool { return id != first })
	reports.await("recovered", func(s string) bool { return strings.HasPrefix(s, "u:mover true") })
	push(16, 20)
	reports.await("shown", func(s string) bool { return s == want(20) })
}

// numbered is "1,2,...,to" ("" for 0).
func numbered(to int) string {
	out := make([]string, 0, to)
	for i := 1; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return strings.Join(out, ",")
}

// pushNumbers sends from..to to uid, one sendToUid each.
func pushNumbers(t *testing.T, s *server, uid string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		s.call("sendToUid", map[string]any{"uid": uid, "data": fmt.Sprint(i)})
	}
}

// resetProxy forwards TCP connections to target until reset() cuts every
// one of them with a reset (SO_LINGER 0), as a flaky network does.
type resetProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*net.TCPConn
}

func newResetProxy(t *testing.T, target string) *resetProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &resetProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.reset() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c.(*net.TCPConn), up.(*net.TCPConn))
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *resetProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.SetLinger(0)
		c.Close()
	}
	p.conns = nil
}

// TestBrowserRecoverySocketReset: the page's socket is reset under it (a
// proxy between it and thinkgate cuts every connection with RST) while
// numbered messages go on; the page reconnects and shows each number once,
// in order. Over WebSocket and over Server-Sent Events.
func TestBrowserRecoverySocketReset(t *testing.T) {
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) { browserRecoverySocketReset(t, transport) })
	}
}

func browserRecoverySocketReset(t *testing.T, transport string) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	s := start(t, fmt.Sprintf("[auth]\nsecret = %q\n[history]\nuids = \"*\"\n", authSecret))
	proxy := newResetProxy(t, s.addr("ws"))
	tok := sign(map[string]any{"sub": "resetme"}, authSecret)
	reports := newReports(t)
	openInChromium(t, chromium, reports.servePage(fmt.Sprintf(recoveryPage, proxy.ln.Addr().String(), tok, "'"+transport+"'"), nil))
	first := reports.await("open", func(string) bool { return true })
	push := func(from, to int) { pushNumbers(t, s, "resetme", from, to) }
	want := numbered
	push(1, 5)
	reports.await("shown", func(s string) bool { return s == want(5) })
	proxy.reset()
	push(6, 15)
	reports.await("open", func(id string) bool { return id != first })
	push(16, 20)
	reports.await("shown", func(s string) bool { return s == want(20) })
}
