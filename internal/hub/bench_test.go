package hub

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"thinkgate/internal/clientid"
)

// countConn counts frames and does nothing else, so the benchmarks measure
// the hub's own cost per delivery (the transport's write is measured by
// thinkgate bench against the kernel floor).
type countConn struct{ n atomic.Int64 }

func (c *countConn) Send([]byte) bool  { c.n.Add(1); return true }
func (c *countConn) Close(int, string) {}
func (c *countConn) Destroy()          {}

func benchHub(b *testing.B, n int) (*Hub, []*Client) {
	g, _ := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	h := New(g)
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = h.Connect(&countConn{}, Payload)
		h.Do(&Command{Op: OpBindUid, ClientID: cs[i].ID, UIDs: []string{fmt.Sprint("u", i)}})
		h.Do(&Command{Op: OpJoinGroup, ClientID: cs[i].ID, Groups: []string{fmt.Sprint("g", i%10)}})
	}
	return h, cs
}

// BenchmarkSendToAll reports ns per delivery for a broadcast to 10,000 clients.
func BenchmarkSendToAll(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h, _ := benchHub(b, n)
			b.ResetTimer()
			for range b.N {
				h.Do(&Command{Op: OpSendToAll, Message: NewText([]byte("hello"))})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkSendToUidParallel: pushes to different uids from all cores; the
// sharded index keeps them from contending.
func BenchmarkSendToUidParallel(b *testing.B) {
	h, _ := benchHub(b, 10000)
	var i atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			uid := fmt.Sprint("u", i.Add(1)%10000)
			h.Do(&Command{Op: OpSendToUid, UIDs: []string{uid}, Message: NewText([]byte("x"))})
		}
	})
}

func BenchmarkSendToGroup(b *testing.B) {
	h, _ := benchHub(b, 10000)
	b.ResetTimer()
	for range b.N {
		h.Do(&Command{Op: OpSendToGroup, Groups: []string{"g3"}, Message: NewText([]byte("x"))})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/delivery")
}
