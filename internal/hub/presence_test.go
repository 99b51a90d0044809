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
	a, b := h.Connect(nopConn{}, Payload), h.Connect(nopConn{}, Payload)
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

func TestGroupPresence(t *testing.T) {
	h := newHub(t)
	var got []string
	h.GroupPresence = func(g string, present bool) {
		state := "off"
		if present {
			state = "on"
		}
		got = append(got, g+":"+state)
	}
	a, b := h.Connect(nopConn{}, Payload), h.Connect(nopConn{}, Payload)
	join := func(c *Client, g string) { h.Do(&Command{Op: OpJoinGroup, ClientID: c.ID, Groups: []string{g}}) }
	join(a, "g1")                                                            // g1 on
	join(b, "g1")                                                            // second member: nothing
	join(b, "g2")                                                            // g2 on
	h.Do(&Command{Op: OpLeaveGroup, ClientID: a.ID, Groups: []string{"g1"}}) // b still in g1
	h.Disconnect(b)                                                          // g1 off, g2 off (map order)
	h.Do(&Command{Op: OpJoinGroup, ClientID: a.ID, Groups: []string{"g3"}})  // g3 on
	h.Do(&Command{Op: OpUngroup, Groups: []string{"g3"}})                    // g3 off
	slices.Sort(got[2:5])
	want := []string{"g1:on", "g2:on", "g1:off", "g2:off", "g3:on", "g3:off"}
	slices.Sort(want[2:5])
	if !slices.Equal(got, want) {
		t.Fatalf("group presence %v, want %v", got, want)
	}
	if gs := h.Groups(); len(gs) != 0 {
		t.Fatalf("groups left: %v", gs)
	}
}
