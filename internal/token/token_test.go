package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	good := Sign(map[string]any{"sub": "u1", "groups": []string{"a", "b"}, "exp": now.Unix() + 60, "session": map[string]any{"name": "Ann"}}, secret)
	// An altered payload with the original signature.
	parts := strings.Split(good, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`))
	tampered := strings.Join(parts, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", good, nil},
		{"no expiry", Sign(map[string]any{"sub": "u1"}, secret), nil},
		{"expired", Sign(map[string]any{"sub": "u1", "exp": now.Unix()}, secret), ErrExpired},
		{"not yet", Sign(map[string]any{"sub": "u1", "nbf": now.Unix() + 10}, secret), ErrNotYet},
		{"wrong key", Sign(map[string]any{"sub": "u1"}, []byte("other")), ErrSignature},
		{"tampered", tampered, ErrSignature},
		{"alg none", none, ErrAlgorithm},
		{"no sub", Sign(map[string]any{"groups": []string{"a"}}, secret), ErrNoSubject},
		{"session not an object", Sign(map[string]any{"sub": "u1", "session": []int{1}}, secret), ErrMalformed},
		{"two parts", "a.b", ErrMalformed},
		{"garbage", "not a token", ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.token, secret, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && c.UID != "u1" {
				t.Fatalf("uid %q", c.UID)
			}
		})
	}
	c, _ := Verify(good, secret, now)
	if strings.Join(c.Groups, ",") != "a,b" || string(c.Session) != `{"name":"Ann"}` {
		t.Fatalf("claims %+v", c)
	}
}

// FuzzVerify: any string is refused or accepted without a panic, and an
// accepted one always names a uid.
func FuzzVerify(f *testing.F) {
	secret := []byte("k")
	f.Add(Sign(map[string]any{"sub": "u"}, secret))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9..")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(s, secret, time.Now())
		if err == nil && c.UID == "" {
			t.Fatal("accepted a token with no uid")
		}
	})
}
