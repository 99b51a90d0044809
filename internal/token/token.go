// Package token verifies the connect tokens apps give their WebSocket
// clients: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (HS256) under
// a secret shared with the app. The claims thinkgate reads:
//
//	sub      the uid to bind the connection to (required)
//	groups   groups to join at connect (optional)
//	session  a JSON object to set as the connection's session (optional)
//	exp      expiry, Unix seconds (optional; past it the token is refused)
//	nbf      not before, Unix seconds (optional)
package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are what a valid token grants.
type Claims struct {
	UID     string
	Groups  []string
	Session json.RawMessage // a JSON object, or nil
}

// Errors a token is refused with; each names what the client got wrong.
var (
	ErrMalformed = errors.New("token is not a JWT (header.payload.signature)")
	ErrAlgorithm = errors.New("token is not signed with HS256")
	ErrSignature = errors.New("token signature does not match (wrong secret or altered token)")
	ErrExpired   = errors.New("token has expired")
	ErrNotYet    = errors.New("token is not valid yet")
	ErrNoSubject = errors.New("token has no sub (the uid)")
)

// Verify checks token's HS256 signature with secret and its time claims at
// now, and returns its claims.
func Verify(token string, secret []byte, now time.Time) (Claims, error) {
	var c Claims
	head, rest, ok := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return c, ErrMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return c, ErrMalformed
	}
	if h.Alg != "HS256" {
		return c, ErrAlgorithm
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, ErrMalformed
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(head + "." + payload))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return c, ErrSignature
	}
	pb, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, ErrMalformed
	}
	var p struct {
		Sub     string          `json:"sub"`
		Groups  []string        `json:"groups"`
		Session json.RawMessage `json:"session"`
		Exp     *float64        `json:"exp"`
		Nbf     *float64        `json:"nbf"`
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return c, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	unix := float64(now.Unix())
	if p.Exp != nil && unix >= *p.Exp {
		return c, ErrExpired
	}
	if p.Nbf != nil && unix < *p.Nbf {
		return c, ErrNotYet
	}
	if p.Sub == "" {
		return c, ErrNoSubject
	}
	if s := bytes.TrimSpace(p.Session); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
		if s[0] != '{' {
			return c, fmt.Errorf("%w: session must be a JSON object", ErrMalformed)
		}
		c.Session = p.Session
	}
	for _, g := range p.Groups {
		if g == "" {
			return c, fmt.Errorf("%w: empty group name", ErrMalformed)
		}
	}
	c.UID, c.Groups = p.Sub, p.Groups
	return c, nil
}

// Sign makes an HS256 token for claims (for tests and tools; apps mint
// theirs with the PHP SDK's Thinkgate\Token).
func Sign(claims map[string]any, secret []byte) string {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	payload := base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(head + "." + payload))
	return head + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
