package clientid

import (
	"strings"
	"testing"
	"time"
)

func TestLayoutMatchesCapturedGatewayWorkerID(t *testing.T) {
	// Captured from a real GatewayWorker: 127.0.0.1 : 2300 : 1.
	id := ID{IP: [4]byte{127, 0, 0, 1}, Port: 2300, Conn: 1}
	if got := id.String(); got != "7f00000108fc00000001" {
		t.Fatalf("got %s", got)
	}
	back, err := Parse("7F00000108FC00000001")
	if err != nil || back != id {
		t.Fatalf("parse upper case: %+v %v", back, err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "7f00000108fc0000000", "7f00000108fc000000011", "zz00000108fc00000001"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestGeneratorSkipsZeroAndDiffersAcrossRestarts(t *testing.T) {
	g, err := NewGenerator("10.1.2.3", 2900, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	g.counter.Store(^uint32(0) - 1)
	a, b := g.Next(), g.Next()
	if a.Conn != ^uint32(0) || b.Conn != 1 {
		t.Fatalf("wrap: %d then %d", a.Conn, b.Conn)
	}
	if !strings.HasPrefix(a.String(), "0a010203") {
		t.Fatalf("ip not encoded: %s", a)
	}
	t0 := time.Unix(1_800_000_000, 0)
	first, _ := NewGenerator("127.0.0.1", 2900, t0)
	var last ID
	for range 1000 {
		last = first.Next()
	}
	restarted, _ := NewGenerator("127.0.0.1", 2900, t0.Add(time.Minute))
	if next := restarted.Next(); next.Conn <= last.Conn {
		t.Fatalf("restart a minute later reuses ids: %d after %d", next.Conn, last.Conn)
	}
	if _, err := NewGenerator("::1", 2900, t0); err == nil {
		t.Fatal("IPv6 accepted")
	}
}
