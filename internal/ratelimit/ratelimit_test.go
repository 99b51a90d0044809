package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name        string
		rate, burst float64
		at          []time.Duration // offsets of the calls
		want        []bool
	}{
		{"burst then refused", 1, 3, []time.Duration{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"refills at the rate", 10, 1, []time.Duration{0, 0, 100 * time.Millisecond, 150 * time.Millisecond}, []bool{true, false, true, false}},
		{"never above the burst", 100, 2, []time.Duration{0, time.Hour, time.Hour, time.Hour}, []bool{true, true, true, false}},
		{"rate 0 allows all", 0, 0, []time.Duration{0, 0, 0}, []bool{true, true, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b Bucket
			for i, d := range c.at {
				if got := b.Allow(t0.Add(d), c.rate, c.burst); got != c.want[i] {
					t.Fatalf("call %d at +%v: %v, want %v", i, d, got, c.want[i])
				}
			}
		})
	}
}

func TestKeyedOpenAndForget(t *testing.T) {
	k := &Keyed{MaxKeys: 10}
	if !k.Open("a", 2) || !k.Open("a", 2) || k.Open("a", 2) {
		t.Fatal("the third open of a with a limit of 2 was allowed, or an earlier one refused")
	}
	k.Close("a")
	if !k.Open("a", 2) {
		t.Fatal("after a close there is room again")
	}
	for i := range 50 { // many other keys: memory stays bounded, a's count is kept
		k.Allow(fmt.Sprint(i), time.Now(), 1, 1)
	}
	if n := k.Len(); n > 11 {
		t.Fatalf("%d keys held with MaxKeys 10", n)
	}
	if k.Open("a", 2) {
		t.Fatal("a's open count was forgotten while it had connections open")
	}
}
