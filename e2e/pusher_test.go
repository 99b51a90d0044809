package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"thinkgate/internal/testenv"
)

// The Pusher app every test here configures.
const (
	pusherAppID  = "1001"
	pusherKey    = "app-key"
	pusherSecret = "app-secret"
)

// pusherApps is the [[pusher.apps]] table; extra lines go into it.
func pusherApps(extra string) string {
	return fmt.Sprintf("\n[[pusher.apps]]\nid = %q\nkey = %q\nsecret = %q\n%s\n", pusherAppID, pusherKey, pusherSecret, extra)
}

// startPusher runs thinkgate with baseConfig plus extra and one Pusher app.
func startPusher(t *testing.T, extra, app string) *server {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	if err := os.WriteFile(cfg, []byte(mergeTOML(baseConfig, extra)+pusherApps(app)), 0o644); err != nil {
		t.Fatal(err)
	}
	return startFile(t, cfg)
}

// pusherClients is the directory of the npm clients (e2e/testdata/pusher),
// installed by scripts/test with npm ci from the committed lockfile.
func pusherClients(t *testing.T) string {
	t.Helper()
	testenv.Need(t, "node")
	dir, _ := filepath.Abs("testdata/pusher")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pusher-js")); err != nil {
		t.Fatalf("the npm clients are not installed: run `npm ci` in %s (scripts/test does)", dir)
	}
	return dir
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runScenario runs one scenario of scenarios.mjs against s and checks that
// every one of its checks passed (want of them).
func runScenario(t *testing.T, dir string, s *server, name string, want int, env ...string) {
	t.Helper()
	cmd := exec.Command("node", "scenarios.mjs", name)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TG_WS_PORT="+port(t, s.addr("ws")), "TG_API_PORT="+port(t, s.addr("api")),
		"PUSHER_APP_ID="+pusherAppID, "PUSHER_KEY="+pusherKey, "PUSHER_SECRET="+pusherSecret)
	cmd.Env = append(cmd.Env, env...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("scenario %s did not finish in 60 s:\n%s", name, out)
	}
	oks := strings.Count(string(out), "\nok: ")
	if strings.HasPrefix(string(out), "ok: ") {
		oks++
	}
	if err != nil || !strings.Contains(string(out), "\ndone\n") || oks != want {
		t.Fatalf("scenario %s: %v, %d checks of %d passed:\n%s", name, err, oks, want, out)
	}
	t.Logf("%s:\n%s", name, out)
}

// TestPusherClients drives thinkgate with pusher-js, laravel-echo and the
// pusher Node library: every channel kind, client events, sign-in and
// terminate_connections, the cache, the HTTP API with its signing, errors.
func TestPusherClients(t *testing.T) {
	dir := pusherClients(t)
	s := startPusher(t, "", "")
	for _, sc := range []struct {
		name   string
		checks int
	}{
		{"public", 7}, {"private", 3}, {"presence", 4}, {"client-events", 3}, {"cache", 2},
		{"signin", 3}, {"errors", 3}, {"echo", 4},
	} {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, dir, s, sc.name, sc.checks) })
	}
}

// TestPusherPresenceAcrossNodes: two nodes on one engine (Redis, and NATS
// with presence in Redis); the presence scenario's second user connects to
// the other node, and every member list, member_added/removed and the HTTP
// API's user counts are the gateway's. A cache- channel published through
// one node is replayed to a subscriber of the other.
func TestPusherPresenceAcrossNodes(t *testing.T) {
	dir := pusherClients(t)
	for _, name := range []string{"redis", "nats"} {
		t.Run(name, func(t *testing.T) {
			e := startEngine(t, name)
			a := startPusher(t, e.config()+"\n[gwcompat]\nlan_ip = \"127.0.0.1\"", "")
			b := startPusher(t, e.config()+"\n[gwcompat]\nlan_ip = \"127.0.0.2\"", "")
			runScenario(t, dir, a, "presence", 4, "TG_WS_PORT2="+port(t, b.addr("ws")))

			if status, body := pusherPost(t, a, "/events", map[string]any{"name": "price", "channel": "cache-prices", "data": "42"}, time.Now().Unix()); status != 200 {
				t.Fatalf("events: %d %s", status, body)
			}
			c, _ := pusherDial(t, b)
			c.WriteText(`{"event":"pusher:subscribe","data":{"channel":"cache-prices"}}`)
			c.read() // subscription_succeeded
			if got := c.read(); got != `{"event":"price","channel":"cache-prices","data":"42"}` {
				t.Fatalf("a subscriber on the other node got %s, want the cached event", got)
			}
			// Node a lists the channel subscribed on node b, with its count.
			if status, body := pusherGet(t, a, "/channels", "info=subscription_count"); status != 200 || body != `{"channels":{"cache-prices":{"subscription_count":1}}}` {
				t.Fatalf("channels from the other node: %d %s", status, body)
			}
		})
	}
}

// pusherSign signs an HTTP API request as Pusher's libraries do.
func pusherSign(method, path string, body []byte, ts int64) string {
	q := map[string]string{}
	if len(body) > 0 {
		sum := md5.Sum(body)
		q["body_md5"] = hex.EncodeToString(sum[:])
	}
	return pusherSignParams(method, path, q, ts)
}

// pusherSignQuery signs a request with extra parameters ("k=v&k=v", unescaped values).
func pusherSignQuery(method, path, extra string, ts int64) string {
	q := map[string]string{}
	for _, kv := range strings.Split(extra, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			q[k] = v
		}
	}
	return pusherSignParams(method, path, q, ts)
}

func pusherSignParams(method, path string, q map[string]string, ts int64) string {
	q["auth_key"], q["auth_timestamp"], q["auth_version"] = pusherKey, strconv.FormatInt(ts, 10), "1.0"
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+q[k])
	}
	qs := strings.Join(parts, "&")
	m := hmac.New(sha256.New, []byte(pusherSecret))
	m.Write([]byte(method + "\n" + path + "\n" + qs))
	return path + "?" + qs + "&auth_signature=" + hex.EncodeToString(m.Sum(nil))
}

// pusherPost publishes through the Pusher HTTP API, signed at time ts.
func pusherPost(t *testing.T, s *server, path string, body any, ts int64) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	full := "/apps/" + pusherAppID + path
	resp, err := http.Post("http://"+s.addr("api")+pusherSign("POST", full, b, ts), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// pusherGet queries the Pusher HTTP API (signed) and returns the status and body.
func pusherGet(t *testing.T, s *server, path, query string) (int, string) {
	t.Helper()
	full := "/apps/" + pusherAppID + path
	signed := pusherSignQuery("GET", full, query, time.Now().Unix())
	resp, err := http.Get("http://" + s.addr("api") + signed)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// pusherDial connects a raw Pusher client and returns it with its socket id.
func pusherDial(t *testing.T, s *server) (*client, string) {
	t.Helper()
	c := s.connect("/app/"+pusherKey+"?protocol=7&client=go&version=0", nil)
	var m struct{ Event, Data string }
	json.Unmarshal([]byte(c.read()), &m)
	var d struct {
		SocketID string `json:"socket_id"`
	}
	json.Unmarshal([]byte(m.Data), &d)
	if m.Event != "pusher:connection_established" || d.SocketID == "" {
		t.Fatalf("first message %+v", m)
	}
	return c, d.SocketID
}

// TestPusherNativeBridge: a native client and a Pusher client in the same
// group/channel reach each other's pushes: a native push is the event
// "message" to Pusher clients, a Pusher event is its JSON to native ones.
func TestPusherNativeBridge(t *testing.T) {
	s := startPusher(t, "", "")
	p, _ := pusherDial(t, s)
	p.WriteText(`{"event":"pusher:subscribe","data":{"channel":"news"}}`)
	if got := p.read(); got != `{"event":"pusher_internal:subscription_succeeded","channel":"news","data":"{}"}` {
		t.Fatalf("subscribe: %s", got)
	}
	n := s.dial()
	s.call("joinGroup", map[string]any{"client_id": n.ID, "group": "news"})
	s.call("bindUid", map[string]any{"client_id": n.ID, "uid": "u1"})

	if got := s.call("sendToGroup", map[string]any{"group": "news", "data": "hello"}); got != 2.0 {
		t.Fatalf("sendToGroup reached %v, want 2", got)
	}
	if got := n.read(); got != "hello" {
		t.Fatalf("native client got %q", got)
	}
	if got := p.read(); got != `{"event":"message","channel":"news","data":"hello"}` {
		t.Fatalf("pusher client got %s", got)
	}
	if status, body := pusherPost(t, s, "/events", map[string]any{"name": "update", "channels": []string{"news"}, "data": `{"a":1}`}, time.Now().Unix()); status != 200 || body != "{}" {
		t.Fatalf("events: %d %s", status, body)
	}
	want := `{"event":"update","channel":"news","data":"{\"a\":1}"}`
	if got := p.read(); got != want {
		t.Fatalf("pusher client got %s, want %s", got, want)
	}
	if got := n.read(); got != want {
		t.Fatalf("native client got %s, want the Pusher event %s", got, want)
	}
	// A push to everyone names no channel.
	s.call("sendToAll", map[string]any{"data": "to all"})
	n.read()
	if got := p.read(); got != `{"event":"message","data":"to all"}` {
		t.Fatalf("pusher client got %s for sendToAll", got)
	}
}

// TestPusherTwoApps: two apps on one gateway keep their channels apart (the
// second's channels are groups with its prefix), and each answers to its
// own key and secret only.
func TestPusherTwoApps(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "thinkgate.toml")
	two := "\n[[pusher.apps]]\nid = \"2002\"\nkey = \"shop-key\"\nsecret = \"shop-secret\"\nprefix = \"shop:\"\n"
	if err := os.WriteFile(cfg, []byte(mergeTOML(baseConfig, "")+pusherApps("")+two), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startFile(t, cfg)
	one, _ := pusherDial(t, s)
	shop := s.connect("/app/shop-key?protocol=7", nil)
	shop.read() // connection_established
	for _, c := range []*client{one, shop} {
		c.WriteText(`{"event":"pusher:subscribe","data":{"channel":"news"}}`)
		c.read()
	}
	if n := s.call("getClientIdCountByGroup", map[string]any{"group": "news"}); n != 1.0 {
		t.Fatalf("group news has %v clients, want app 1001's one", n)
	}
	if n := s.call("getClientIdCountByGroup", map[string]any{"group": "shop:news"}); n != 1.0 {
		t.Fatalf("group shop:news has %v clients, want the shop app's one", n)
	}
	if status, body := pusherPost(t, s, "/events", map[string]any{"name": "update", "channel": "news", "data": "for app 1001"}, time.Now().Unix()); status != 200 {
		t.Fatalf("events: %d %s", status, body)
	}
	if got := one.read(); got != `{"event":"update","channel":"news","data":"for app 1001"}` {
		t.Fatalf("app 1001's client got %s", got)
	}
	shop.silent(300 * time.Millisecond)
	// A push to the shop's group reaches its client under the channel's own name.
	s.call("sendToGroup", map[string]any{"group": "shop:news", "data": "sale"})
	if got := shop.read(); got != `{"event":"message","channel":"news","data":"sale"}` {
		t.Fatalf("the shop's client got %s", got)
	}
	one.silent(300 * time.Millisecond)
	// App 1001's key and secret do not open the shop's API.
	b := []byte(`{"name":"x","channel":"news","data":"y"}`)
	resp, err := http.Post("http://"+s.addr("api")+pusherSign("POST", "/apps/2002/events", b, time.Now().Unix()), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("app 1001's credentials on app 2002: %d", resp.StatusCode)
	}
}

// TestPusherProtocolErrors: what a Pusher client sees for each refusal.
func TestPusherProtocolErrors(t *testing.T) {
	s := startPusher(t, "", "max_connections = 2\nclient_event_rate = -1")
	closeOf := func(c *client) (string, int) {
		t.Helper()
		msg := c.read()
		f, err := c.ReadFrame(5 * time.Second)
		if err != nil || f.Op != ws.OpClose {
			t.Fatalf("after %s: %v %v, want a close frame", msg, f.Op, err)
		}
		return msg, f.CloseCode()
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/app/" + pusherKey + "?protocol=x", 4006},
		{"/app/" + pusherKey + "?protocol=8", 4007},
		{"/app/nope?protocol=7", 4001},
	} {
		msg, code := closeOf(s.connect(tc.path, nil))
		if code != tc.code || !strings.Contains(msg, `"event":"pusher:error"`) || !strings.Contains(msg, fmt.Sprintf(`"code":%d`, tc.code)) {
			t.Errorf("%s: %s then close %d, want pusher:error and close %d", tc.path, msg, code, tc.code)
		}
	}
	// webman/push's clients send no protocol: taken as 7.
	nover := s.connect("/app/"+pusherKey, nil)
	if got := nover.read(); !strings.Contains(got, "pusher:connection_established") {
		t.Fatalf("no protocol parameter: %s", got)
	}
	nover.Close()
	time.Sleep(100 * time.Millisecond) // its place in max_connections is given back
	a, _ := pusherDial(t, s)
	pusherDial(t, s)
	if msg, code := closeOf(s.connect("/app/"+pusherKey+"?protocol=7", nil)); code != 4100 || !strings.Contains(msg, `"code":4100`) {
		t.Errorf("third client of an app with max_connections = 2: %s, close %d", msg, code)
	}
	for _, tc := range []struct{ send, want string }{
		{`not json`, `"event":"pusher:error"`},
		{`{"event":"pusher:ping","data":{}}`, `{"event":"pusher:pong","data":"{}"}`},
		{`{"event":"pusher:subscribe","data":{"channel":"bad name!"}}`, `\"status\":400`},
		{`{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"app-key:00"}}`, `{"event":"pusher:error","data":{"code":null,"message":"Invalid signature: Expected HMAC SHA256 hex digest of `},
		{`{"event":"pusher:subscribe","data":{"channel":"presence-x","auth":"app-key:00","channel_data":"{}"}}`, `Invalid signature`},
		{`{"event":"client-x","channel":"private-x","data":{}}`, `client_event_rate = -1`},
		{`{"event":"pusher:subscribe","data":{"channel":"#server-to-user-1"}}`, `only the signed-in user`},
		{`{"event":"pusher:nope"}`, `Unsupported event`},
	} {
		a.WriteText(tc.send)
		if got := a.read(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %s, want %s", tc.send, got, tc.want)
		}
	}
	// The connection stayed through all of it.
	a.WriteText(`{"event":"pusher:ping","data":{}}`)
	a.read()
	// The HTTP API refuses a stale timestamp and a bad body.
	if status, body := pusherPost(t, s, "/events", map[string]any{"name": "x", "channel": "news", "data": "y"}, time.Now().Add(-11*time.Minute).Unix()); status != 401 || !strings.Contains(body, "Timestamp expired") {
		t.Errorf("stale timestamp: %d %s", status, body)
	}
	chans := make([]string, 101)
	for i := range chans {
		chans[i] = "c" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]any{"name": "x", "channels": chans, "data": "y"}, "More than 100 channels"},
		{map[string]any{"name": "x", "channel": "news"}, "needs data"},
		{map[string]any{"name": "x", "channel": "bad name", "data": "y"}, "Invalid channel name"},
		{map[string]any{"name": "x", "channel": "news", "data": "y", "socket_id": "nope"}, "invalid socket_id"},
	} {
		if status, body := pusherPost(t, s, "/events", tc.body, time.Now().Unix()); status != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%v: %d %s, want 400 %q", tc.body, status, body, tc.want)
		}
	}
	batch := make([]map[string]any, 11)
	for i := range batch {
		batch[i] = map[string]any{"name": "x", "channel": "news", "data": "y"}
	}
	if status, body := pusherPost(t, s, "/batch_events", map[string]any{"batch": batch}, time.Now().Unix()); status != 400 || !strings.Contains(body, "More than 10 events") {
		t.Errorf("a batch of 11: %d %s", status, body)
	}
}

// TestPusherClientEventLimits: client events over 10 KB are refused, and
// past client_event_rate (here 2 a second) each gets pusher:error 4301
// while the connection stays; the other subscriber gets only those allowed.
func TestPusherClientEventLimits(t *testing.T) {
	s := startPusher(t, "", "client_event_rate = 2")
	sign := func(sid, ch string) string {
		m := hmac.New(sha256.New, []byte(pusherSecret))
		m.Write([]byte(sid + ":" + ch))
		return pusherKey + ":" + hex.EncodeToString(m.Sum(nil))
	}
	sub := func() (*client, string) {
		c, sid := pusherDial(t, s)
		msg, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": "private-chat", "auth": sign(sid, "private-chat")}})
		c.WriteText(string(msg))
		c.read()
		return c, sid
	}
	a, _ := sub()
	b, _ := sub()
	big := `{"event":"client-big","channel":"private-chat","data":"` + strings.Repeat("x", 10<<10) + `"}`
	a.WriteText(big)
	if got := a.read(); !strings.Contains(got, "data over 10240 bytes") {
		t.Fatalf("a 10 KB client event: %s", got)
	}
	for i := range 4 {
		a.WriteText(fmt.Sprintf(`{"event":"client-n","channel":"private-chat","data":{"i":%d}}`, i))
	}
	for i := range 2 { // a burst of 2 is allowed, the rest refused
		if got := b.read(); got != fmt.Sprintf(`{"event":"client-n","channel":"private-chat","data":"{\"i\":%d}"}`, i) {
			t.Fatalf("event %d: %s", i, got)
		}
	}
	b.silent(300 * time.Millisecond)
	for range 2 {
		if got := a.read(); !strings.Contains(got, `"code":4301`) {
			t.Fatalf("over the rate: %s", got)
		}
	}
	a.WriteText(`{"event":"pusher:ping","data":{}}`)
	if got := a.read(); got != `{"event":"pusher:pong","data":"{}"}` {
		t.Fatalf("the connection did not stay: %s", got)
	}
}

// TestPusherWebhooks: the app's webhook_url gets Pusher's webhooks, signed.
func TestPusherWebhooks(t *testing.T) {
	hooks := make(chan map[string]any, 100)
	var badSig error
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(pusherSecret))
		m.Write(body)
		if r.Header.Get("X-Pusher-Key") != pusherKey || r.Header.Get("X-Pusher-Signature") != hex.EncodeToString(m.Sum(nil)) || r.Header.Get("Content-Type") != "application/json" {
			badSig = fmt.Errorf("webhook headers %v", r.Header)
		}
		var b struct {
			TimeMS int64            `json:"time_ms"`
			Events []map[string]any `json:"events"`
		}
		json.Unmarshal(body, &b)
		for _, e := range b.Events {
			hooks <- e
		}
	}))
	defer hs.Close()
	s := startPusher(t, "", fmt.Sprintf("webhook_url = %q", hs.URL))
	sign := func(socketID, s string) string {
		m := hmac.New(sha256.New, []byte(pusherSecret))
		m.Write([]byte(socketID + ":" + s))
		return pusherKey + ":" + hex.EncodeToString(m.Sum(nil))
	}
	a, sa := pusherDial(t, s)
	b, sb := pusherDial(t, s)
	member := `{"user_id":"7","user_info":{"name":"Ann"}}`
	sub := func(c *client, sid, ch, data string) {
		auth := sign(sid, ch)
		if data != "" {
			auth = sign(sid, ch+":"+data)
		}
		msg, _ := json.Marshal(map[string]any{"event": "pusher:subscribe", "data": map[string]string{"channel": ch, "auth": auth, "channel_data": data}})
		c.WriteText(string(msg))
		if got := c.read(); !strings.Contains(got, "subscription_succeeded") {
			t.Fatalf("subscribe %s: %s", ch, got)
		}
	}
	sub(a, sa, "presence-room", member)
	sub(b, sb, "presence-room", `{"user_id":"8"}`)
	a.read() // member_added for 8
	b.WriteText(`{"event":"client-hi","channel":"presence-room","data":{"x":1}}`)
	a.read()
	b.WriteText(`{"event":"pusher:subscribe","data":{"channel":"cache-empty"}}`)
	b.read()
	b.read() // cache_miss
	b.Close()
	a.Close()
	want := map[string]bool{"channel_occupied presence-room": true, "member_added presence-room 7": true, "member_added presence-room 8": true,
		"client_event presence-room 8": true, "channel_occupied cache-empty": true, "cache_miss cache-empty": true,
		"member_removed presence-room 8": true, "member_removed presence-room 7": true, "channel_vacated presence-room": true, "channel_vacated cache-empty": true}
	deadline := time.After(10 * time.Second)
	var order []string
	for len(want) > 0 {
		select {
		case e := <-hooks:
			key := fmt.Sprint(e["name"], " ", e["channel"])
			if u, ok := e["user_id"].(string); ok && u != "" {
				key += " " + u
			}
			order = append(order, key)
			if e["name"] == "client_event" && (e["event"] != "client-hi" || e["data"] != `{"x":1}` || e["socket_id"] != sb) {
				t.Errorf("client_event webhook %v", e)
			}
			delete(want, key)
		case <-deadline:
			t.Fatalf("webhooks never came: %v", want)
		}
	}
	if badSig != nil {
		t.Fatal(badSig)
	}
	if order[0] != "channel_occupied presence-room" || order[1] != "member_added presence-room 7" {
		t.Fatalf("the first webhooks came in the order %q, want channel_occupied before member_added", order[:2])
	}
}

// pusherBrowserPage subscribes with the browser build of pusher-js and
// reports what arrives.
const pusherBrowserPage = `<!doctype html>
<title>pusher-js in a browser</title>
<script src="/pusher.min.js"></script>
<ul id="got"></ul>
<script>
function report(kind, data) { fetch('/report', {method: 'POST', body: JSON.stringify({kind: kind, data: data})}); }
const pusher = new Pusher(%q, {cluster: 'mt1', wsHost: '127.0.0.1', wsPort: %s, forceTLS: false, enabledTransports: ['ws']});
pusher.connection.bind('connected', () => report('connected', pusher.connection.socket_id));
const ch = pusher.subscribe('news');
ch.bind('pusher:subscription_succeeded', () => report('subscribed', ''));
ch.bind('update', (d) => {
  const li = document.createElement('li');
  li.textContent = d.text;
  document.getElementById('got').appendChild(li);
  report('update', document.getElementById('got').textContent);
});
</script>`

// TestPusherBrowser: pusher-js's browser build in headless Chromium gets an
// event published through the HTTP API and shows it in the page.
func TestPusherBrowser(t *testing.T) {
	chromium := testenv.Need(t, "chromium", "chromium-browser", "google-chrome")
	dir := pusherClients(t)
	s := startPusher(t, "", "")
	reports := newReports(t)
	openInChromium(t, chromium, reports.servePage(fmt.Sprintf(pusherBrowserPage, pusherKey, port(t, s.addr("ws"))),
		map[string]string{"/pusher.min.js": filepath.Join(dir, "node_modules/pusher-js/dist/web/pusher.min.js")}))
	reports.await("connected", func(string) bool { return true })
	reports.await("subscribed", func(string) bool { return true })
	if status, body := pusherPost(t, s, "/events", map[string]any{"name": "update", "channel": "news", "data": `{"text":"hello from PHP"}`}, time.Now().Unix()); status != 200 {
		t.Fatalf("events: %d %s", status, body)
	}
	reports.await("update", func(s string) bool { return s == "hello from PHP" })
}

// TestPusherSilentClient: a Pusher client is told an activity_timeout of
// at most half heartbeat.timeout; one that then stays silent past
// heartbeat.timeout is closed with 4201 (pusher-js reconnects at once),
// where a native client gets 3001.
func TestPusherSilentClient(t *testing.T) {
	s := startPusher(t, "[heartbeat]\ntimeout = \"2s\"", "")
	c := s.connect("/app/"+pusherKey+"?protocol=7", nil)
	if got := c.read(); !strings.Contains(got, `activity_timeout\":1`) {
		t.Fatalf("connection_established %s, want activity_timeout 1 (half of heartbeat.timeout)", got)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != ws.OpClose || f.CloseCode() != 4201 {
		t.Fatalf("silent Pusher client: %v %d %v, want close 4201", f.Op, f.CloseCode(), err)
	}
	n := s.dial()
	if f, err := n.ReadFrame(5 * time.Second); err != nil || f.CloseCode() != 3001 {
		t.Fatalf("silent native client: %d %v, want close 3001", f.CloseCode(), err)
	}
}
