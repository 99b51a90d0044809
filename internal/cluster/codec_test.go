package cluster

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"thinkgate/internal/hub"
)

// seedCommands are commands of every shape, the fuzzers' starting points.
func seedCommands() []*hub.Command {
	return []*hub.Command{
		{Op: hub.OpSendToUid, UIDs: []string{"alice", "bob"}, Message: hub.NewText([]byte("hello"))},
		{Op: hub.OpSendToAll, ClientIDs: []string{}, Exclude: []string{"7f0000010b5400000001"}, Message: &hub.Message{Binary: true, Data: []byte{0, 1, 2}}},
		{Op: hub.OpSendToGroup, Groups: []string{"room"}, Message: &hub.Message{Raw: true, Data: []byte("raw\n")}},
		{Op: hub.OpSetSession, ClientID: "7f0000010b5400000001", Session: []byte(`a:1:{s:1:"a";i:1;}`)},
		{Op: hub.OpGetAllClientSessions},
		{Op: hub.OpSendToGroup, Groups: []string{"app:presence-room"}, Exclude: []string{"7f0000010b5400000001"},
			Message: &hub.Message{Event: "client-typing", Channel: "app:presence-room", UserID: "7", Data: []byte(`{"x":1}`)}},
		{Op: hub.OpSendToUid, UIDs: []string{"a", "b"}, Message: &hub.Message{Data: []byte("x"),
			Positions: []hub.Position{{Stream: "u:a", Offset: 7, Epoch: "e1"}, {Stream: "u:b", Offset: 1 << 40, Epoch: "e2"}}}},
		{Op: hub.OpJoinPresence, ClientID: "7f0000010b5400000001", Groups: []string{"presence-room"}, Session: []byte(`{"user_id":"7"}`)},
		{Op: hub.OpCloseClient, ClientID: "7f0000010b5400000001", Code: 4009, Message: &hub.Message{Event: "pusher:error", Data: []byte(`{}`)}},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, cmd := range seedCommands() {
		got, err := decodeCommand(encodeCommand(nil, cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd.Op, err)
		}
		if !sameCommand(got, cmd) {
			t.Fatalf("%s: got %+v, want %+v", cmd.Op, got, cmd)
		}
	}
	for _, bad := range [][]byte{nil, {byte(hub.OpSendToUid)}, {0, 0, 0, 0, 0, 0}, {200, 0, 0, 0, 0, 0}, append(encodeCommand(nil, seedCommands()[0]), 0)} {
		if _, err := decodeCommand(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("decodeCommand(%v) = %v, want errCorrupt", bad, err)
		}
	}
}

func sameCommand(a, b *hub.Command) bool {
	if (a.Message == nil) != (b.Message == nil) {
		return false
	}
	if a.Message != nil && (a.Message.Binary != b.Message.Binary || a.Message.Raw != b.Message.Raw || !bytes.Equal(a.Message.Data, b.Message.Data) ||
		a.Message.Event != b.Message.Event || a.Message.Channel != b.Message.Channel || a.Message.UserID != b.Message.UserID) {
		return false
	}
	if a.Message != nil && !reflect.DeepEqual(a.Message.Positions, b.Message.Positions) {
		return false
	}
	if a.Code != b.Code {
		return false
	}
	return a.Op == b.Op && a.ClientID == b.ClientID && (a.ClientIDs == nil) == (b.ClientIDs == nil) &&
		reflect.DeepEqual(nonNil(a.ClientIDs), nonNil(b.ClientIDs)) && reflect.DeepEqual(nonNil(a.UIDs), nonNil(b.UIDs)) &&
		reflect.DeepEqual(nonNil(a.Groups), nonNil(b.Groups)) && reflect.DeepEqual(nonNil(a.Exclude), nonNil(b.Exclude)) &&
		(a.Session == nil) == (b.Session == nil) && bytes.Equal(a.Session, b.Session)
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func TestResultRoundTrip(t *testing.T) {
	for _, res := range []any{nil, true, false, 0, -3, 1 << 40, "bob", []string{}, []string{"a", "b"}, hub.Session(`a:0:{}`),
		map[string]hub.Session{"7f0000010b5400000001": hub.Session(`a:0:{}`)}} {
		got, err := decodeResult(encodeResult(nil, res, nil))
		if err != nil || !reflect.DeepEqual(got, res) {
			t.Fatalf("%#v came back as %#v (%v)", res, got, err)
		}
	}
	_, err := decodeResult(encodeResult(nil, nil, hub.ErrInvalid))
	if !errors.Is(err, hub.ErrInvalid) || err.Error() != "invalid params" {
		t.Fatalf("an invalid-params error came back as %v", err)
	}
}

// FuzzDecodeCommand feeds bus bytes to the command decoder: it must never
// panic, and what it accepts must survive a second round trip unchanged.
func FuzzDecodeCommand(f *testing.F) {
	for _, cmd := range seedCommands() {
		f.Add(encodeCommand(nil, cmd))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := decodeCommand(b)
		if err != nil {
			return
		}
		again, err := decodeCommand(encodeCommand(nil, cmd))
		if err != nil || !sameCommand(cmd, again) {
			t.Fatalf("re-encoding %+v gave %+v (%v)", cmd, again, err)
		}
	})
}

// FuzzDecodeResult feeds bus bytes to the result decoder.
func FuzzDecodeResult(f *testing.F) {
	f.Add(encodeResult(nil, []string{"a", "b"}, nil))
	f.Add(encodeResult(nil, map[string]hub.Session{"x": hub.Session("s")}, nil))
	f.Add(encodeResult(nil, 42, nil))
	f.Add(encodeResult(nil, nil, errors.New("boom")))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeResult(b)
		if err != nil {
			return
		}
		again, err := decodeResult(encodeResult(nil, res, nil))
		if err != nil || !reflect.DeepEqual(res, again) {
			t.Fatalf("re-encoding %#v gave %#v (%v)", res, again, err)
		}
	})
}

// FuzzEnvelope feeds Redis pub/sub payloads to the envelope parser.
func FuzzEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, kindRequest, 1, "7f0000010b54", encodeCommand(nil, seedCommands()[0])))
	f.Add(appendEnvelope(nil, kindReply, 1<<60, "7f0000010b55", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, seq, from, body, err := parseEnvelope(b)
		if err != nil {
			return
		}
		if !bytes.Equal(appendEnvelope(nil, kind, seq, from, body), b) && len(b) > 0 {
			// Uvarints have one canonical form per value only when minimal;
			// a padded length or sequence re-encodes shorter.
			k2, s2, f2, b2, err := parseEnvelope(appendEnvelope(nil, kind, seq, from, body))
			if err != nil || k2 != kind || s2 != seq || f2 != from || !bytes.Equal(b2, body) {
				t.Fatalf("envelope %q did not round-trip", b)
			}
		}
	})
}

// BenchmarkCommandCodec is the bus encoding cost of one sendToUid push
// (a 100-byte message) on each side.
func BenchmarkCommandCodec(b *testing.B) {
	cmd := &hub.Command{Op: hub.OpSendToUid, UIDs: []string{"user-123456"}, Message: hub.NewText(bytes.Repeat([]byte("x"), 100))}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeCommand(buf[:0], cmd)
		if _, err := decodeCommand(buf); err != nil {
			b.Fatal(err)
		}
	}
}
