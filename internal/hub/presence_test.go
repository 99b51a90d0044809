package hub

import (
	"slices"
	"sync"
	"testing"
)

type nopConn struct{}

func (nopConn) Send([]byte) bool  { return true }
func (nopConn) Close(int, string) {}
func (nopConn) Destroy()          {}

func TestPresence(t *testing.T) {
	h := newHub(t)
	var mu sync.Mutex
	var got []string
	h.Presence = func(uid string, online bool) {
		mu.Lock()
		defer mu.Unlock()
		state := "off"
		if online {
			state = "on"
		}
		got = append(got, uid+":"+state)
	}
	a, b := h.Connect(nopConn{}), h.Connect(nopConn{})
	bind := func(c *Client, uid string) { h.Do(&Command{Op: OpBindUid, ClientID: c.ID, UIDs: []string{uid}}) }
	bind(a, "u1")                                   // u1 on
	bind(b, "u1")                                   // second tab: nothing
	h.Do(&Command{Op: OpUnbindUid, ClientID: a.ID}) // one tab left: nothing
	bind(b, "u2")                                   // u1 off, u2 on
	h.Disconnect(b)                                 // u2 off
	h.Disconnect(a)                                 // unbound: nothing
	want := []string{"u1:on", "u1:off", "u2:on", "u2:off"}
	if !slices.Equal(got, want) {
		t.Fatalf("presence %v, want %v", got, want)
	}
}
