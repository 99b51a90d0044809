package webhook

import (
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"events":[]}`)
	ts := "1800000000"
	sig := Sign("k", ts, body)
	tests := []struct {
		name, secret, ts, sig string
		body                  []byte
		ok                    bool
	}{
		{"good", "k", ts, sig, body, true},
		{"wrong secret", "other", ts, sig, body, false},
		{"altered body", "k", ts, sig, []byte(`{"events":[1]}`), false},
		{"timestamp changed", "k", "1800000001", sig, body, false},
		{"six minutes old", "k", "1799999640", Sign("k", "1799999640", body), body, false},
		{"not a number", "k", "soon", sig, body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.ts, tc.sig, tc.body, now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
