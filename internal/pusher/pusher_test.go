package pusher

import (
	"encoding/json"
	"testing"
	"time"

	"thinkgate/internal/hub"
)

// Pusher's published test vectors (key 278d425bdf160c739803); the presence
// one recomputed, as the documentation's printed value is for another name.
func TestSignatures(t *testing.T) {
	app := &App{Key: "278d425bdf160c739803", Secret: "7ad3773142a6692b25b8"}
	for _, tc := range []struct{ toSign, hex string }{
		{"1234.1234:private-foobar", "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"},
		{`1234.1234::user::{"id":"12345"}`, "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"},
		{`1234.1234:presence-foobar:{"user_id":10,"user_info":{"name":"Mr. Channels"}}`, "31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"},
	} {
		if got := app.Sign(tc.toSign); got != tc.hex {
			t.Errorf("Sign(%q) = %s, want %s", tc.toSign, got, tc.hex)
		}
		if !app.VerifyAuth(app.Key+":"+tc.hex, tc.toSign) {
			t.Errorf("VerifyAuth refused the right signature of %q", tc.toSign)
		}
		for _, bad := range []string{tc.hex, "other:" + tc.hex, app.Key + ":" + tc.hex[1:], app.Key + ":"} {
			if app.VerifyAuth(bad, tc.toSign) {
				t.Errorf("VerifyAuth accepted %q", bad)
			}
		}
	}
}

func TestSocketIDRoundTrip(t *testing.T) {
	for _, id := range []string{"7f0000010b5400000001", "ffffffffffffffffffff", "00000000000000000000", "c0a80001271000abcdef"} {
		sid := SocketID(id)
		back, err := ClientID(sid)
		if err != nil || back != id {
			t.Fatalf("%s -> %q -> %q, %v", id, sid, back, err)
		}
	}
	for _, bad := range []string{"", "1", "1.", ".1", "a.b", "1.2.3", "281474976710656.1", "1.4294967296", "-1.2"} {
		if _, err := ClientID(bad); err == nil {
			t.Errorf("ClientID(%q) accepted", bad)
		}
	}
	if SocketID("not an id") != "" {
		t.Error("SocketID of a bad client_id")
	}
}

func TestKindsAndNames(t *testing.T) {
	for name, want := range map[string]Kind{
		"news":                      {},
		"cache-news":                {Cache: true},
		"private-a":                 {Private: true},
		"private-cache-a":           {Private: true, Cache: true},
		"private-encrypted-a":       {Private: true, Encrypted: true},
		"private-encrypted-cache-a": {Private: true, Encrypted: true, Cache: true},
		"presence-a":                {Private: true, Presence: true},
		"presence-cache-a":          {Private: true, Presence: true, Cache: true},
		"#server-to-user-7":         {},
	} {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%q) = %+v, want %+v", name, got, want)
		}
	}
	long := make([]byte, MaxChannelLength+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, want := range map[string]bool{"a-Z_0=@,.;": true, "": false, "a b": false, "a:b": false, "é": false, string(long): false, string(long[1:]): true} {
		if ValidChannel(name) != want {
			t.Errorf("ValidChannel(%q) = %v", name, !want)
		}
	}
	app := &App{Prefix: "shop:"}
	if g := app.Group("news"); g != "shop:news" || ChannelFromGroup(g) != "news" {
		t.Fatalf("group %q, channel back %q", g, ChannelFromGroup(g))
	}
	if ch, ok := app.Owns("shop:news"); !ok || ch != "news" {
		t.Fatal("Owns")
	}
	if _, ok := app.Owns("news"); ok {
		t.Fatal("Owns a group of another prefix")
	}
	if ChannelFromGroup("#server-to-user-a:b") != "#server-to-user-a:b" {
		t.Fatal("a user channel must be kept whole")
	}
}

// Envelope is what a Pusher client receives for each kind of hub message.
func TestEnvelope(t *testing.T) {
	for _, tc := range []struct {
		m    *hub.Message
		want string
	}{
		{&hub.Message{Data: []byte("hello")}, `{"event":"message","data":"hello"}`},
		{&hub.Message{Data: []byte(`{"a":"<b>"}`), Channel: "shop:news"}, `{"event":"message","channel":"news","data":"{\"a\":\"\u003cb\u003e\"}"}`},
		{&hub.Message{Data: []byte{0xff, 0}, Binary: true}, `{"event":"message","data":"/wA=","encoding":"base64"}`},
		{&hub.Message{Data: []byte("\xff")}, `{"event":"message","data":"/w==","encoding":"base64"}`},
		{&hub.Message{Event: "update", Channel: "news", Data: []byte(`"x"`)}, `{"event":"update","channel":"news","data":"x"}`},
		{&hub.Message{Event: "client-t", Channel: "presence-r", UserID: "7", Data: []byte(`{"a":1}`)}, `{"event":"client-t","channel":"presence-r","user_id":"7","data":{"a":1}}`},
	} {
		got := Envelope(nil, tc.m)
		if string(got) != tc.want {
			t.Errorf("%q: %s, want %s", tc.m.Data, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s is not JSON", got)
		}
	}
	if Envelope(nil, &hub.Message{Raw: true, Data: []byte("x")}) != nil {
		t.Error("a raw message cannot reach a Pusher client")
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &Cache{TTL: time.Minute, Max: 2}
	c.Put("a", "e1", []byte(`"1"`), now)
	c.Put("a", "e2", []byte(`"2"`), now)
	if ev, d, ok := c.Get("a", now.Add(59*time.Second)); !ok || ev != "e2" || string(d) != `"2"` {
		t.Fatalf("Get: %q %s %v", ev, d, ok)
	}
	if _, _, ok := c.Get("a", now.Add(time.Minute)); ok {
		t.Fatal("kept past its TTL")
	}
	c.Put("x", "e", nil, now)
	c.Put("y", "e", nil, now.Add(time.Second))
	c.Put("z", "e", nil, now.Add(2*time.Second)) // full: x, expiring first, goes
	if _, _, ok := c.Get("x", now); ok {
		t.Fatal("the oldest entry was not evicted at Max")
	}
	if _, _, ok := c.Get("z", now); !ok {
		t.Fatal("the newest entry is missing")
	}
}
