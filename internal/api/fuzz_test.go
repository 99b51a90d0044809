package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
)

type nopConn struct{}

func (nopConn) Send([]byte) bool  { return true }
func (nopConn) Close(int, string) {}
func (nopConn) Destroy()          {}

func fuzzHub(t testing.TB) (*hub.Hub, string) {
	g, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(g)
	c := h.Connect(nopConn{}, hub.Payload)
	return h, c.ID
}

// FuzzCall: any method name and params body gives a result or an API error
// with a code and an HTTP status, never a panic; results are JSON.
func FuzzCall(f *testing.F) {
	for _, seed := range []struct{ method, params string }{
		{"sendToUid", `{"uid":"u1","data":"x"}`},
		{"sendToUid", `{"uid":[1,"2",3.5e3],"data":{"a":[1,2]}}`},
		{"sendToAll", `{"data":"AAE=","binary":true,"exclude":["$ID"]}`},
		{"bindUid", `{"client_id":"$ID","uid":"u"}`},
		{"updateSession", `{"client_id":"$ID","session":{"a":{"b":[1]}}}`},
		{"sendToGroup", `{"group":null,"data":null}`},
		{"getSession", `[]`},
		{"closeClient", `{"client_id":7}`},
		{"nope", ``},
	} {
		f.Add(seed.method, []byte(seed.params))
	}
	h, id := fuzzHub(f)
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		params = bytes.ReplaceAll(params, []byte("$ID"), []byte(id))
		res, aerr := Call(h, method, params)
		if aerr != nil {
			if aerr.Code == "" || aerr.Message == "" || aerr.status < 400 || aerr.status > 599 {
				t.Fatalf("bad error %+v", aerr)
			}
			return
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result %#v is not JSON: %v", res, err)
		}
	})
}

// FuzzTextLine: every request line gets exactly one reply line.
func FuzzTextLine(f *testing.F) {
	for _, seed := range []string{
		`{"uid":"u1","percent":"88%"}`,
		`{"uid":1001,"data":{"x":1}}`,
		`{"method":"sendToGroup","group":["a","b"],"data":"x"}`,
		`{"method":"auth","key":"k"}`,
		`{"method":null}`,
		`not json`,
		`{"uid":{}}`,
		"{\"uid\":\"\u2028\"}",
	} {
		f.Add([]byte(seed))
	}
	h, _ := fuzzHub(f)
	tp := NewText(h, TextOptions{MaxLineSize: 1 << 20}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Fuzz(func(t *testing.T, line []byte) {
		reply, sessions, _ := tp.handle(line, true)
		if sessions != nil { // written as encoded: the same JSON a whole reply would be
			var b bytes.Buffer
			w := bufio.NewWriter(&b)
			writeSessions(w, sessions)
			w.Flush()
			reply = b.Bytes()
		}
		if len(reply) == 0 || bytes.ContainsAny(reply, "\r\n") {
			t.Fatalf("reply %q is not one line", reply)
		}
		if s := string(reply); s != "ok" && s != "fail" && !json.Valid(reply) {
			t.Fatalf("reply %q is neither ok/fail nor JSON", reply)
		}
	})
}
