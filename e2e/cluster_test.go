package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"thinkgate/internal/testenv"
	"thinkgate/internal/webhook"
)

// engine is a started cluster engine: Redis, plus NATS for the nats engine.
type engine struct {
	name  string
	redis *testenv.Server
	nats  *testenv.Server // nil for redis
}

func startEngine(t *testing.T, name string) *engine {
	e := &engine{name: name, redis: testenv.Redis(t)}
	if name == "nats" {
		e.nats = testenv.NATS(t)
	}
	return e
}

// config is the [cluster] section for a node of this engine.
func (e *engine) config() string {
	natsURL := ""
	if e.nats != nil {
		natsURL = e.nats.URL
	}
	return fmt.Sprintf("[cluster]\nengine = %q\nredis = %q\nnats = %q\nexpiry = \"3s\"\n", e.name, e.redis.URL, natsURL)
}

// startNodes starts n thinkgate nodes on e; extra[i], when given, is added
// to node i's config.
func startNodes(t *testing.T, e *engine, n int, extra ...string) []*server {
	nodes := make([]*server, n)
	for i := range nodes {
		cfg := e.config()
		if i < len(extra) {
			cfg += extra[i]
		}
		nodes[i] = start(t, cfg)
	}
	return nodes
}

// registerAddresses asks a node's Register for the gateway list, as
// GatewayClient does.
func registerAddresses(t *testing.T, s *server) []string {
	c, err := net.Dial("tcp", s.addr("register"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"event":"worker_connect","secret_key":""}` + "\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ Addresses []string }
	json.Unmarshal([]byte(line), &reply)
	slices.Sort(reply.Addresses)
	return reply.Addresses
}

func innerAddrs(nodes ...*server) []string {
	var out []string
	for _, s := range nodes {
		out = append(out, s.addr("inner"))
	}
	slices.Sort(out)
	return out
}

// eventually retries check every 100 ms until it returns "" or d passes.
func eventually(t *testing.T, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		problem := check()
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, problem)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCluster: three real nodes on one engine, clients spread over them;
// every surface (HTTP API, Text port, PHP's in-worker Gateway facade, the
// unchanged GatewayClient protocol) sees the whole cluster.
func TestCluster(t *testing.T) {
	for _, name := range []string{"redis", "nats"} {
		t.Run(name, func(t *testing.T) {
			php := needPHP(t)
			app, _ := filepath.Abs("testdata/app")
			e := startEngine(t, name)
			nodes := startNodes(t, e, 3, "", "", fmt.Sprintf("[http]\nlisten = \"127.0.0.1:0\"\n[php]\napp = %q\nentry = \"app.php\"\nworkers = 2\n", app))
			n0, n1, n2 := nodes[0], nodes[1], nodes[2]

			// The Register of any node lists every node.
			eventually(t, 5*time.Second, func() string {
				if got, want := registerAddresses(t, n2), innerAddrs(nodes...); !slices.Equal(got, want) {
					return fmt.Sprintf("register lists %v, want %v", got, want)
				}
				return ""
			})
			// GatewayClient, pointed at one node's Register, drives clients on two others.
			x, y := n0.dial(), n1.dial()
			gatewayClientScenario(t, php, n2.addr("register"), "", n0, x, y)
			x.Close()
			eventually(t, 5*time.Second, func() string {
				if n := n2.call("getAllClientIdCount", nil); n != 0.0 {
					return fmt.Sprintf("%v clients left after the GatewayClient scenario", n)
				}
				return ""
			})

			// alice has a tab on n0 and one on n1, bob is on n2.
			a0, a1, bob := n0.dial(), n1.dial(), n2.dial()
			n2.call("bindUid", map[string]any{"client_id": a0.ID, "uid": "alice"})
			n0.call("bindUid", map[string]any{"client_id": a1.ID, "uid": "alice"})
			tc := n1.text()
			if got := tc.ask(fmt.Sprintf(`{"method":"bindUid","client_id":%q,"uid":"bob"}`+"\n"+
				`{"method":"joinGroup","client_id":%q,"group":"room"}`+"\n"+
				`{"method":"joinGroup","client_id":%q,"group":"room"}`+"\n", bob.ID, a0.ID, bob.ID), 3); !slices.Equal(got, []string{"true", "true", "true"}) {
				t.Fatalf("Text port binds: %q", got)
			}

			// Exactly one copy per tab, in order, whichever node is asked.
			for i := range 20 {
				via := nodes[i%3]
				if n := via.call("sendToUid", map[string]any{"uid": "alice", "data": fmt.Sprint(i)}); n != 2.0 {
					t.Fatalf("sendToUid alice via node %d reached %v tabs, want 2", i%3, n)
				}
			}
			for _, tab := range []*client{a0, a1} {
				for i := range 20 {
					if m := tab.read(); m != fmt.Sprint(i) {
						t.Fatalf("tab %s got %q, want %d", tab.ID, m, i)
					}
				}
			}
			if got := tc.ask(`{"method":"sendToGroup","group":"room","data":"to the room"}`+"\n", 1); got[0] != "2" {
				t.Fatalf("Text sendToGroup: %q", got)
			}
			if m := a0.read(); m != "to the room" {
				t.Fatalf("a0 got %q", m)
			}
			if m := bob.read(); m != "to the room" {
				t.Fatalf("bob got %q", m)
			}
			a1.silent(300 * time.Millisecond)
			a0.silent(50 * time.Millisecond)

			// Queries answer for the cluster.
			for _, q := range []struct {
				via    *server
				method string
				params map[string]any
				want   any
			}{
				{n1, "getAllClientIdCount", nil, 3.0},
				{n0, "getClientIdByUid", map[string]any{"uid": "alice"}, anyList(sortedIDs(a0.ID, a1.ID))},
				{n0, "isUidOnline", map[string]any{"uid": "bob"}, true},
				{n0, "isOnline", map[string]any{"client_id": bob.ID}, true},
				{n2, "getAllUidList", nil, anyList([]string{"alice", "bob"})},
				{n2, "getUidListByGroup", map[string]any{"group": "room"}, anyList([]string{"alice", "bob"})},
				{n1, "getAllGroupIdList", nil, anyList([]string{"room"})},
			} {
				if got := q.via.call(q.method, q.params); fmt.Sprint(got) != fmt.Sprint(q.want) {
					t.Errorf("%s = %v, want %v", q.method, got, q.want)
				}
			}

			// PHP on n2 pushes to and queries a client on n0 over its worker pipe.
			zoe := n0.dial()
			n1.call("bindUid", map[string]any{"client_id": zoe.ID, "uid": "zoe"})
			_, body := get(t, "http://"+n2.addr("http")+"/gateway?uid=zoe")
			var got struct {
				Sent    int
				Online  bool
				IDs     []string
				Session map[string]string
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%v in %q", err, body)
			}
			if got.Sent != 1 || !got.Online || !slices.Equal(got.IDs, []string{zoe.ID}) || got.Session["seen"] != "yes" {
				t.Fatalf("PHP on n2 saw %+v", got)
			}
			if m := zoe.read(); !strings.Contains(m, `"from":"php"`) {
				t.Fatalf("zoe got %q", m)
			}

			// /status shows the cluster from every node.
			_, status := n0.post("/status", nil, "")
			var st struct {
				Cluster struct {
					Engine string
					Nodes  []struct{ Addr string }
				}
			}
			json.Unmarshal(status, &st)
			if st.Cluster.Engine != name || len(st.Cluster.Nodes) != 3 {
				t.Fatalf("status cluster: %s", status)
			}
			_, metrics := get(t, "http://"+n0.addr("api")+"/metrics")
			for _, want := range []string{"thinkgate_cluster_nodes 3\n", "thinkgate_cluster_pushes_total ", "thinkgate_cluster_requests_sent_total "} {
				if !strings.Contains(metrics, want) {
					t.Fatalf("/metrics lacks %q", want)
				}
			}
			verb := exec.Command(binary, "status")
			verb.Env = append(os.Environ(), "THINKGATE_PROCESS_PID_FILE="+n1.pidFile)
			table, err := verb.CombinedOutput()
			if want := fmt.Sprintf("cluster: %s, this node %s, 3 nodes (", name, n1.addr("inner")); err != nil || !strings.Contains(string(table), want) {
				t.Fatalf("thinkgate status lacks %q (%v):\n%s", want, err, table)
			}
		})
	}
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// TestClusterNodeKilled: a node killed with SIGKILL drops out of presence,
// the Register and every answer within cluster.expiry (3 s here).
func TestClusterNodeKilled(t *testing.T) {
	e := startEngine(t, "redis")
	nodes := startNodes(t, e, 3)
	n0, n1 := nodes[0], nodes[1]
	a0, a1 := n0.dial(), n1.dial()
	kate := n1.dial()
	n0.call("bindUid", map[string]any{"client_id": a0.ID, "uid": "alice"})
	n0.call("bindUid", map[string]any{"client_id": a1.ID, "uid": "alice"})
	n0.call("bindUid", map[string]any{"client_id": kate.ID, "uid": "kate"})
	eventually(t, 5*time.Second, func() string {
		if got := registerAddresses(t, n0); len(got) != 3 {
			return fmt.Sprintf("register lists %v", got)
		}
		return ""
	})

	n1.cmd.Process.Kill()
	killed := time.Now()
	eventually(t, 3*time.Second+2*time.Second, func() string {
		if online := n0.call("isUidOnline", map[string]any{"uid": "kate"}); online != false {
			return "kate, whose only client was on the killed node, is still online"
		}
		if ids := n0.call("getClientIdByUid", map[string]any{"uid": "alice"}); fmt.Sprint(ids) != fmt.Sprint([]any{a0.ID}) {
			return fmt.Sprintf("alice's clients: %v", ids)
		}
		if uids := n0.call("getAllUidList", nil); fmt.Sprint(uids) != "[alice]" {
			return fmt.Sprintf("uids: %v", uids)
		}
		if got, want := registerAddresses(t, n0), innerAddrs(n0, nodes[2]); !slices.Equal(got, want) {
			return fmt.Sprintf("register lists %v, want %v", got, want)
		}
		return ""
	})
	t.Logf("the killed node left every answer after %v", time.Since(killed).Round(100*time.Millisecond))
	// The survivors still serve: a push reaches alice's remaining tab once.
	if n := nodes[2].call("sendToUid", map[string]any{"uid": "alice", "data": "still here"}); n != 1.0 {
		t.Fatalf("sendToUid after the kill reached %v", n)
	}
	if m := a0.read(); m != "still here" {
		t.Fatalf("a0 got %q", m)
	}
	a0.silent(200 * time.Millisecond)
}

// TestClusterEngineRestart: with the engine down, API calls fail at once
// with cluster_unavailable while the node's own clients still get pushes;
// when it is back, the nodes reconnect and publish their presence again.
func TestClusterEngineRestart(t *testing.T) {
	for _, name := range []string{"redis", "nats"} {
		t.Run(name, func(t *testing.T) {
			e := startEngine(t, name)
			nodes := startNodes(t, e, 2)
			n0, n1 := nodes[0], nodes[1]
			u, v := n0.dial(), n1.dial()
			n0.call("bindUid", map[string]any{"client_id": u.ID, "uid": "u"})
			n0.call("bindUid", map[string]any{"client_id": v.ID, "uid": "v"})

			down := e.redis
			if e.nats != nil {
				down = e.nats
			}
			down.Stop()
			// u's client is on n0: the push reaches it. Redis down leaves n0
			// unable to know who else has u, and the call says so; with
			// NATS down, presence (Redis) says nobody else has u.
			status, body := n0.post("/api/sendToUid", map[string]any{"uid": "u", "data": "during"}, "")
			if name == "redis" && (status != 503 || !strings.Contains(string(body), `"code":"cluster_unavailable"`) || !strings.Contains(string(body), "delivered to 1 clients on this node only")) {
				t.Fatalf("local push with Redis down: HTTP %d %s", status, body)
			}
			if name == "nats" && (status != 200 || string(body) != `{"result":1}`+"\n") {
				t.Fatalf("local push with NATS down: HTTP %d %s", status, body)
			}
			if m := u.read(); m != "during" {
				t.Fatalf("local client got %q while the engine was down", m)
			}
			// v's client is on n1: that needs the engine, and fails at once.
			began := time.Now()
			status, body = n0.post("/api/sendToUid", map[string]any{"uid": "v", "data": "lost"}, "")
			if status != 503 || !strings.Contains(string(body), `"code":"cluster_unavailable"`) {
				t.Fatalf("cross-node push with the engine down: HTTP %d %s", status, body)
			}
			if took := time.Since(began); took > 2*time.Second {
				t.Fatalf("the failing call took %v (cluster.timeout is 2s)", took)
			}
			t.Logf("with the engine down: %s", body)

			down.Start() // Redis comes back empty
			eventually(t, 10*time.Second, func() string {
				status, body := n1.post("/api/getAllUidList", map[string]any{}, "")
				if status != 200 || string(body) != `{"result":["u","v"]}`+"\n" {
					return fmt.Sprintf("after the restart: HTTP %d %s", status, body)
				}
				return ""
			})
			eventually(t, 10*time.Second, func() string {
				// Until n1 is back on the engine too, the push reaches nobody and says so.
				status, body := n0.post("/api/sendToUid", map[string]any{"uid": "v", "data": "after"}, "")
				if status != 200 || string(body) != `{"result":1}`+"\n" {
					return fmt.Sprintf("cross-node push after the restart: HTTP %d %s", status, body)
				}
				return ""
			})
			if m := v.read(); m != "after" { // "lost" never arrives
				t.Fatalf("v got %q", m)
			}
			v.silent(200 * time.Millisecond)
			u.silent(50 * time.Millisecond)
		})
	}
}

// TestClusterEngineDownAtStart: a node whose engine cannot be reached
// refuses to start with one line naming it.
func TestClusterEngineDownAtStart(t *testing.T) {
	for _, c := range []struct{ engine, env, want string }{
		{"redis", "THINKGATE_CLUSTER_REDIS=redis://127.0.0.1:1/0", "thinkgate: cluster: redis at 127.0.0.1:1 is unreachable: "},
		{"nats", "THINKGATE_CLUSTER_NATS=nats://127.0.0.1:1", "thinkgate: cluster: nats at nats://127.0.0.1:1 is unreachable: "},
	} {
		t.Run(c.engine, func(t *testing.T) {
			env := []string{"THINKGATE_CLUSTER_ENGINE=" + c.engine, c.env, "THINKGATE_PROCESS_PID_FILE=" + filepath.Join(t.TempDir(), "tg.pid"),
				"THINKGATE_WS_LISTEN=127.0.0.1:0", "THINKGATE_API_LISTEN=127.0.0.1:0", "THINKGATE_TEXT_LISTEN=127.0.0.1:0",
				"THINKGATE_GWCOMPAT_REGISTER=127.0.0.1:0", "THINKGATE_GWCOMPAT_INNER=127.0.0.1:0"}
			if c.engine == "nats" { // presence needs a Redis that answers
				env = append(env, "THINKGATE_CLUSTER_REDIS="+testenv.Redis(t).URL)
			}
			cmd := exec.Command(binary, "start")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) {
				t.Fatalf("start with the engine down: %v\n%s", err, out)
			}
		})
	}
}

// TestClusterNodeHangs: a node that is alive but does not answer (stopped
// with SIGSTOP) makes calls that need it fail after cluster.timeout, not
// hang; once it runs again, it answers, and no push arrives twice.
func TestClusterNodeHangs(t *testing.T) {
	e := startEngine(t, "redis")
	nodes := startNodes(t, e, 2, "timeout = \"1s\"\n", "timeout = \"1s\"\n") // in [cluster]
	n0, n1 := nodes[0], nodes[1]
	v := n1.dial()
	n0.call("bindUid", map[string]any{"client_id": v.ID, "uid": "v"})

	n1.cmd.Process.Signal(syscall.SIGSTOP)
	began := time.Now()
	status, body := n0.post("/api/sendToUid", map[string]any{"uid": "v", "data": "while stopped"}, "")
	took := time.Since(began)
	n1.cmd.Process.Signal(syscall.SIGCONT)
	if status != 503 || !strings.Contains(string(body), "did not answer") {
		t.Fatalf("push to a stopped node: HTTP %d %s", status, body)
	}
	if took < time.Second || took > 3*time.Second {
		t.Fatalf("the call took %v; cluster.timeout is 1s", took)
	}
	// The stopped node picks the request up when it runs again: the push
	// that timed out is delivered late, once; the next one normally.
	if m := v.read(); m != "while stopped" {
		t.Fatalf("v got %q", m)
	}
	if n := n0.call("sendToUid", map[string]any{"uid": "v", "data": "after"}); n != 1.0 {
		t.Fatalf("push after SIGCONT reached %v", n)
	}
	if m := v.read(); m != "after" {
		t.Fatalf("v got %q", m)
	}
	v.silent(200 * time.Millisecond)
}

// TestClusterWebhookOffline: in a cluster, a uid with tabs on two nodes is
// reported online once; its last tab on one node closing while it has a tab
// on another is not reported offline; its last tab anywhere closing is, once.
func TestClusterWebhookOffline(t *testing.T) {
	rec := &receiver{t: t}
	hs := httptest.NewServer(rec)
	defer hs.Close()
	e := startEngine(t, "redis")
	hook := fmt.Sprintf("[events]\nsink = \"webhook\"\nwebhook_url = %q\nwebhook_secret = %q\noffline_delay = \"300ms\"\n", hs.URL, authSecret)
	nodes := startNodes(t, e, 2, hook, hook)
	a, b := nodes[0].dial(), nodes[1].dial()
	nodes[0].call("bindUid", map[string]any{"client_id": a.ID, "uid": "amy"})
	nodes[0].call("bindUid", map[string]any{"client_id": b.ID, "uid": "amy"})
	// Tabs of one uid on two nodes, bound one after the other and (bob) at
	// the same moment: one online event each, from one node.
	c, d := nodes[0].dial(), nodes[1].dial()
	var wg sync.WaitGroup
	for i, cl := range []*client{c, d} {
		wg.Add(1)
		url, body := "http://"+nodes[i].addr("api")+"/api/bindUid", fmt.Sprintf(`{"client_id":%q,"uid":"bob"}`, cl.ID)
		go func() { // at the same moment on both nodes; no t.Fatal off the test's goroutine
			defer wg.Done()
			if resp, err := http.Post(url, "application/json", strings.NewReader(body)); err != nil {
				t.Error(err)
			} else {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	rec.wait(t, "online amy", func(e webhook.Event) bool { return e.Type == "online" && e.UID == "amy" })
	rec.wait(t, "online bob", func(e webhook.Event) bool { return e.Type == "online" && e.UID == "bob" })
	time.Sleep(500 * time.Millisecond)
	for _, uid := range []string{"amy", "bob"} {
		if got := rec.find(func(e webhook.Event) bool { return e.Type == "online" && e.UID == uid }); len(got) != 1 {
			t.Fatalf("%s reported online %d times", uid, len(got))
		}
	}
	a.Close()
	rec.wait(t, "close of the tab on node 0", func(e webhook.Event) bool { return e.Type == "close" && e.ClientID == a.ID })
	time.Sleep(time.Second) // well past offline_delay
	if got := rec.find(func(e webhook.Event) bool { return e.Type == "offline" && e.UID == "amy" }); len(got) != 0 {
		t.Fatalf("amy reported offline while her tab on node 1 is open: %+v", got)
	}
	b.Close()
	rec.wait(t, "offline after the last tab", func(e webhook.Event) bool { return e.Type == "offline" && e.UID == "amy" })
}
