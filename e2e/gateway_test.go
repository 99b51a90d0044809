package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestQuickstart is the README's five minutes: a client gets its init
// message, the backend binds it with bindUid and pushes with sendToUid.
func TestQuickstart(t *testing.T) {
	s := start(t, "")
	c := s.dial()
	if got := s.call("bindUid", map[string]any{"client_id": c.ID, "uid": "u1"}); got != true {
		t.Fatalf("bindUid: %v", got)
	}
	if got := s.call("sendToUid", map[string]any{"uid": "u1", "data": map[string]any{"percent": "88%"}}); got != 1.0 {
		t.Fatalf("sendToUid delivered %v", got)
	}
	if m := c.read(); m != `{"percent":"88%"}` {
		t.Fatalf("client got %q", m)
	}
	if got := s.call("sendToUid", map[string]any{"uid": "u1", "data": "plain text"}); got != 1.0 {
		t.Fatalf("sendToUid delivered %v", got)
	}
	if m := c.read(); m != "plain text" {
		t.Fatalf("client got %q", m)
	}
}

func TestInitMessageCanBeSwitchedOff(t *testing.T) {
	s := start(t, "[ws]\ninit_message = false")
	c := s.dialRaw()
	c.silent(300 * time.Millisecond)
	ids := s.call("getAllClientIdList", nil).([]any)
	if len(ids) != 1 {
		t.Fatalf("clients %v", ids)
	}
	s.call("sendToClient", map[string]any{"client_id": ids[0], "data": "hi"})
	if m := c.read(); m != "hi" {
		t.Fatalf("got %q", m)
	}
}

// TestEveryOperation drives each gateway operation (docs/api.md) through the
// HTTP API against real clients and checks both the result and what each
// client receives.
func TestEveryOperation(t *testing.T) {
	s := start(t, "")
	a, b, c := s.dial(), s.dial(), s.dial()
	sorted := func(ids ...string) []any {
		slices.Sort(ids)
		out := []any{}
		for _, id := range ids {
			out = append(out, id)
		}
		return out
	}
	type step struct {
		method string
		params map[string]any
		want   any
		recv   map[*client]string // who must receive what ("" = nothing)
	}
	none := map[*client]string{a: "", b: "", c: ""}
	steps := []step{
		{"bindUid", map[string]any{"client_id": a.ID, "uid": "alice"}, true, nil},
		{"bindUid", map[string]any{"client_id": b.ID, "uid": 42}, true, nil}, // PHP sends numeric uids as numbers
		{"joinGroup", map[string]any{"client_id": a.ID, "group": "room"}, true, nil},
		{"joinGroup", map[string]any{"client_id": b.ID, "group": "room"}, true, nil},
		{"joinGroup", map[string]any{"client_id": c.ID, "group": "other"}, true, nil},
		{"setSession", map[string]any{"client_id": a.ID, "session": map[string]any{"name": "A", "n": 1}}, true, nil},
		{"updateSession", map[string]any{"client_id": a.ID, "session": map[string]any{"n": 2}}, true, nil},
		{"getSession", map[string]any{"client_id": a.ID}, map[string]any{"name": "A", "n": 2.0}, nil},
		{"getSession", map[string]any{"client_id": "7f000001000000000000"}, nil, nil},
		{"sendToAll", map[string]any{"data": "all"}, 3.0, map[*client]string{a: "all", b: "all", c: "all"}},
		{"sendToClient", map[string]any{"client_id": c.ID, "data": "one"}, true, map[*client]string{a: "", b: "", c: "one"}},
		{"sendToClient", map[string]any{"client_id": "7f000001000000000000", "data": "x"}, false, none},
		{"sendToUid", map[string]any{"uid": []any{"alice", "42"}, "data": "uids"}, 2.0, map[*client]string{a: "uids", b: "uids", c: ""}},
		{"sendToGroup", map[string]any{"group": "room", "data": "grp"}, 2.0, map[*client]string{a: "grp", b: "grp", c: ""}},
		{"sendToGroup", map[string]any{"group": []any{"room", "other"}, "data": "grps", "exclude": a.ID}, 2.0, map[*client]string{a: "", b: "grps", c: "grps"}},
		{"isOnline", map[string]any{"client_id": a.ID}, true, nil},
		{"isOnline", map[string]any{"client_id": "7f000001000000000000"}, false, nil},
		{"isUidOnline", map[string]any{"uid": "alice"}, true, nil},
		{"isUidOnline", map[string]any{"uid": "bob"}, false, nil},
		{"getClientIdByUid", map[string]any{"uid": "alice"}, sorted(a.ID), nil},
		{"getUidByClientId", map[string]any{"client_id": b.ID}, "42", nil},
		{"getUidByClientId", map[string]any{"client_id": c.ID}, nil, nil},
		{"getAllClientIdCount", nil, 3.0, nil},
		{"getAllClientIdList", nil, sorted(a.ID, b.ID, c.ID), nil},
		{"getAllUidCount", nil, 2.0, nil},
		{"getAllUidList", nil, []any{"42", "alice"}, nil},
		{"getAllGroupIdList", nil, []any{"other", "room"}, nil},
		{"getClientIdCountByGroup", map[string]any{"group": "room"}, 2.0, nil},
		{"getClientIdListByGroup", map[string]any{"group": "room"}, sorted(a.ID, b.ID), nil},
		{"getUidListByGroup", map[string]any{"group": "room"}, []any{"42", "alice"}, nil},
		{"getUidCountByGroup", map[string]any{"group": "room"}, 2.0, nil},
		{"getClientSessionsByGroup", map[string]any{"group": "room"}, map[string]any{a.ID: map[string]any{"name": "A", "n": 2.0}, b.ID: map[string]any{}}, nil},
		{"getAllClientSessions", nil, map[string]any{a.ID: map[string]any{"name": "A", "n": 2.0}, b.ID: map[string]any{}, c.ID: map[string]any{}}, nil},
		{"leaveGroup", map[string]any{"client_id": b.ID, "group": "room"}, true, nil},
		{"getClientIdListByGroup", map[string]any{"group": "room"}, sorted(a.ID), nil},
		{"unbindUid", map[string]any{"client_id": b.ID, "uid": "ignored"}, true, nil},
		{"getAllUidList", nil, []any{"alice"}, nil},
		{"ungroup", map[string]any{"group": "other"}, true, nil},
		{"getAllGroupIdList", nil, []any{"room"}, nil},
		{"sendToGroup", map[string]any{"group": "other", "data": "gone"}, 0.0, none},
		{"closeClient", map[string]any{"client_id": c.ID, "data": "bye"}, true, map[*client]string{a: "", b: "", c: "bye"}},
	}
	for i, st := range steps {
		got := s.call(st.method, st.params)
		if !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d %s(%v) = %#v, want %#v", i, st.method, st.params, got, st.want)
		}
		for cl, want := range st.recv {
			if want == "" {
				cl.silent(50 * time.Millisecond)
			} else if m := cl.read(); m != want {
				t.Fatalf("step %d %s: client got %q, want %q", i, st.method, m, want)
			}
		}
	}
	// closeClient: after the message, a close frame; the client is offline at
	// once, not only when the close handshake ends.
	if s.call("isOnline", map[string]any{"client_id": c.ID}) != false || s.call("getAllClientIdCount", nil) != 2.0 {
		t.Fatal("a client closed with closeClient still counts as online")
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != ws.OpClose || f.CloseCode() != 1000 {
		t.Fatalf("after closeClient: %+v %v", f, err)
	}
	// destroyClient: no message, at once, with a close frame saying so (3003).
	if got := s.call("destroyClient", map[string]any{"client_id": b.ID}); got != true {
		t.Fatalf("destroyClient: %v", got)
	}
	if s.call("isOnline", map[string]any{"client_id": b.ID}) != false {
		t.Fatal("a destroyed client still counts as online")
	}
	if f, err := b.ReadFrame(5 * time.Second); err != nil || f.Op != ws.OpClose || f.CloseCode() != 3003 {
		t.Fatalf("after destroyClient: %v %d %v; want a close frame with 3003", f.Op, f.CloseCode(), err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExcludeLists(t *testing.T) {
	s := start(t, "")
	cs := []*client{s.dial(), s.dial(), s.dial(), s.dial()}
	for _, c := range cs {
		s.call("joinGroup", map[string]any{"client_id": c.ID, "group": "g"})
	}
	if got := s.call("sendToAll", map[string]any{"data": "x", "exclude": []any{cs[0].ID, cs[2].ID}}); got != 2.0 {
		t.Fatalf("sendToAll with exclude delivered %v", got)
	}
	if got := s.call("sendToGroup", map[string]any{"group": "g", "data": "y", "exclude": []any{cs[1].ID}}); got != 3.0 {
		t.Fatalf("sendToGroup with exclude delivered %v", got)
	}
	want := [][]string{{"y"}, {"x"}, {"y"}, {"x", "y"}}
	for i, c := range cs {
		for _, w := range want[i] {
			if m := c.read(); m != w {
				t.Fatalf("client %d got %q, want %q", i, m, w)
			}
		}
		c.silent(50 * time.Millisecond)
	}
}

// TestOneUidThreeTabs: a user with three tabs gets every push in each tab,
// and a tab that closes stops counting.
func TestOneUidThreeTabs(t *testing.T) {
	s := start(t, "")
	tabs := []*client{s.dial(), s.dial(), s.dial()}
	for _, tab := range tabs {
		s.call("bindUid", map[string]any{"client_id": tab.ID, "uid": "u1"})
	}
	if got := s.call("getClientIdByUid", map[string]any{"uid": "u1"}); len(got.([]any)) != 3 {
		t.Fatalf("uid has %v", got)
	}
	if got := s.call("sendToUid", map[string]any{"uid": "u1", "data": "to all tabs"}); got != 3.0 {
		t.Fatalf("delivered %v", got)
	}
	for i, tab := range tabs {
		if m := tab.read(); m != "to all tabs" {
			t.Fatalf("tab %d got %q", i, m)
		}
	}
	tabs[1].WriteFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	waitFor(t, func() bool { return len(s.call("getClientIdByUid", map[string]any{"uid": "u1"}).([]any)) == 2 })
	if got := s.call("sendToUid", map[string]any{"uid": "u1", "data": "again"}); got != 2.0 {
		t.Fatalf("after a tab closed, delivered %v", got)
	}
}

func TestAPIErrors(t *testing.T) {
	s := start(t, "")
	cases := []struct {
		path   string
		body   any
		status int
		code   string
	}{
		{"/api/noSuchThing", "{}", 404, "unknown_method"},
		{"/api/sendToUid", "{not json", 400, "invalid_json"},
		{"/api/sendToUid", map[string]any{"data": "x"}, 422, "invalid_params"},
		{"/api/sendToUid", map[string]any{"uid": map[string]any{}, "data": "x"}, 422, "invalid_params"},
		{"/api/bindUid", map[string]any{"client_id": "x", "uid": ""}, 422, "invalid_params"},
		{"/api/setSession", map[string]any{"client_id": "x", "session": []any{1}}, 422, "invalid_params"},
		{"/api/sendToAll", map[string]any{"data": "!!", "binary": true}, 422, "invalid_params"},
		{"/nowhere", "{}", 404, "not_found"},
		{"/api/batch", `{"method":"x"}`, 400, "invalid_json"},
	}
	for _, tc := range cases {
		status, body := s.post(tc.path, tc.body, "")
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(body, &e)
		if status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %v: %d %s, want %d %s", tc.path, tc.body, status, body, tc.status, tc.code)
		}
	}
	// The server is still fine.
	if s.call("getAllClientIdCount", nil) != 0.0 {
		t.Fatal("server state changed by bad requests")
	}
}

func TestBatchAndBinary(t *testing.T) {
	s := start(t, "")
	c := s.dial()
	status, body := s.post("/api/batch", []any{
		map[string]any{"method": "bindUid", "params": map[string]any{"client_id": c.ID, "uid": "u"}},
		map[string]any{"method": "sendToUid", "params": map[string]any{"uid": "u", "data": "AAEC", "binary": true}},
		map[string]any{"method": "getUidByClientId", "params": map[string]any{"client_id": "7f000001000000000000"}},
		map[string]any{"method": "nope"},
	}, "")
	var out struct{ Replies []map[string]any }
	if err := json.Unmarshal(body, &out); status != 200 || err != nil || len(out.Replies) != 4 {
		t.Fatalf("batch: %d %s", status, body)
	}
	if out.Replies[0]["result"] != true || out.Replies[1]["result"] != 1.0 {
		t.Fatalf("batch replies %s", body)
	}
	if r, ok := out.Replies[2]["result"]; !ok || r != nil {
		t.Fatalf("a null result must be kept: %s", body)
	}
	if out.Replies[3]["error"] == nil {
		t.Fatalf("bad item has no error: %s", body)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != ws.OpBinary || string(f.Payload) != "\x00\x01\x02" {
		t.Fatalf("binary frame: %+v %v", f, err)
	}
}

func TestAPIKey(t *testing.T) {
	s := start(t, "[api]\nkey = \"s3cret\"")
	if status, _ := s.post("/api/getAllClientIdCount", "{}", ""); status != 401 {
		t.Fatalf("no key: %d", status)
	}
	if status, _ := s.post("/api/getAllClientIdCount", "{}", "wrong"); status != 401 {
		t.Fatalf("wrong key: %d", status)
	}
	if status, body := s.post("/api/getAllClientIdCount", "{}", "s3cret"); status != 200 || !strings.Contains(string(body), `"result":0`) {
		t.Fatalf("right key: %d %s", status, body)
	}
}

func TestHealthAndStatus(t *testing.T) {
	s := start(t, "")
	s.dial()
	resp, err := httpGet("http://" + s.addr("api") + "/healthz")
	if err != nil || strings.TrimSpace(resp) != "ok" {
		t.Fatalf("healthz %q %v", resp, err)
	}
	body, err := httpGet("http://" + s.addr("api") + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Clients, Uids, Groups, Goroutines int
		UptimeSeconds                     *int64 `json:"uptime_seconds"`
		Memory                            map[string]float64
		Listeners                         map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	wsStats, _ := st.Listeners["ws"]["stats"].(map[string]any)
	if st.Clients != 1 || st.Goroutines == 0 || st.UptimeSeconds == nil || st.Memory["heap_alloc_bytes"] == 0 ||
		wsStats["active"] != 1.0 || st.Listeners["text"]["addr"] == nil || st.Listeners["api"]["addr"] == nil {
		t.Fatalf("status: %s", body)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
