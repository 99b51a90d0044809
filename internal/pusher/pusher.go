// Package pusher holds what the Pusher Channels protocol (version 7) means,
// shared by its WebSocket side (session) and its HTTP API (pusherapi): apps
// and their credentials, signatures, socket ids, channel kinds, the event
// envelope, and the last-event cache of cache- channels.
//
// Mapping onto the gateway: a channel of an app is the group prefix+channel
// (prefix is the app's, "" for a single app), a signed-in user is the uid
// prefix+user id, a socket id is another spelling of a client_id.
package pusher

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"thinkgate/internal/clientid"
)

// App is one Pusher app.
type App struct {
	ID, Key, Secret string
	Prefix          string // of its groups and uids
	MaxConnections  int    // 0: no limit
	ClientEventRate int    // per connection per second; < 0: client events refused
	WebhookURL      string

	Conns atomic.Int64 // connected clients on this node
}

// Apps finds apps by key (WebSocket) and by id (HTTP API).
type Apps struct {
	byKey, byID map[string]*App
	list        []*App
}

// NewApps indexes apps.
func NewApps(apps []*App) *Apps {
	a := &Apps{byKey: map[string]*App{}, byID: map[string]*App{}, list: apps}
	for _, app := range apps {
		a.byKey[app.Key], a.byID[app.ID] = app, app
	}
	return a
}

// ByKey returns the app with key, or nil.
func (a *Apps) ByKey(key string) *App { return a.byKey[key] }

// ByID returns the app with id, or nil.
func (a *Apps) ByID(id string) *App { return a.byID[id] }

// List returns every app.
func (a *Apps) List() []*App { return a.list }

// Group is the gateway group of one of the app's channels.
func (a *App) Group(channel string) string { return a.Prefix + channel }

// UID is the gateway uid of one of the app's users.
func (a *App) UID(user string) string { return a.Prefix + user }

// Owns reports whether group is one of the app's channels, and which.
func (a *App) Owns(group string) (string, bool) {
	ch, ok := strings.CutPrefix(group, a.Prefix)
	return ch, ok && ValidChannel(ch)
}

// Sign is the hex HMAC-SHA256 of s with the app's secret.
func (a *App) Sign(s string) string {
	m := hmac.New(sha256.New, []byte(a.Secret))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyAuth checks an "auth" value of a subscription or sign-in, key:signature
// over toSign, in constant time.
func (a *App) VerifyAuth(auth, toSign string) bool {
	key, sig, ok := strings.Cut(auth, ":")
	if !ok || key != a.Key {
		return false
	}
	want := a.Sign(toSign)
	return hmac.Equal([]byte(sig), []byte(want))
}

// ChannelFromGroup is the channel name inside a group name: what follows the
// last ':' (channel names have none; app prefixes end with one). A user's
// channel (#server-to-user-<id>) is never a group and is kept whole.
func ChannelFromGroup(group string) string {
	if strings.HasPrefix(group, UserChannelPrefix) {
		return group
	}
	if i := strings.LastIndexByte(group, ':'); i >= 0 {
		return group[i+1:]
	}
	return group
}

// MaxChannelLength bounds a channel name, as Pusher does.
const MaxChannelLength = 200

// ValidChannel reports whether name is a channel name Pusher allows:
// 1-200 of A-Z a-z 0-9 _ - = @ , . ; (and #, which private-encrypted- names
// never need but Pusher accepts).
func ValidChannel(name string) bool {
	if name == "" || len(name) > MaxChannelLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_-=@,.;#", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// UserChannelPrefix starts the channel of one signed-in user: pusher-js
// subscribes to #server-to-user-<id> after signing in, and the HTTP API
// publishes to a user there (the pusher libraries' sendToUser). It is the
// user's uid, not a group.
const UserChannelPrefix = "#server-to-user-"

// Kind is what a channel's name makes it.
type Kind struct {
	Private   bool // needs an authorization: private-, presence-, private-encrypted-
	Presence  bool // presence-
	Encrypted bool // private-encrypted-: relayed as is, no client events
	Cache     bool // the last event is kept for new subscribers
}

// KindOf tells what channel is.
func KindOf(channel string) Kind {
	var k Kind
	switch {
	case strings.HasPrefix(channel, "presence-"):
		k.Private, k.Presence = true, true
		k.Cache = strings.HasPrefix(channel, "presence-cache-")
	case strings.HasPrefix(channel, "private-encrypted-"):
		k.Private, k.Encrypted = true, true
		k.Cache = strings.HasPrefix(channel, "private-encrypted-cache-")
	case strings.HasPrefix(channel, "private-"):
		k.Private = true
		k.Cache = strings.HasPrefix(channel, "private-cache-")
	default:
		k.Cache = strings.HasPrefix(channel, "cache-")
	}
	return k
}

// SocketID is the socket id Pusher clients are given for a client_id: the
// node part (address and port, 48 bits) and the connection number, in
// decimal, joined by a dot.
func SocketID(clientID string) string {
	id, err := clientid.Parse(clientID)
	if err != nil {
		return ""
	}
	node := uint64(id.IP[0])<<40 | uint64(id.IP[1])<<32 | uint64(id.IP[2])<<24 | uint64(id.IP[3])<<16 | uint64(id.Port)
	return strconv.FormatUint(node, 10) + "." + strconv.FormatUint(uint64(id.Conn), 10)
}

// ClientID is the client_id a socket id stands for.
func ClientID(socketID string) (string, error) {
	a, b, ok := strings.Cut(socketID, ".")
	node, err1 := strconv.ParseUint(a, 10, 48)
	conn, err2 := strconv.ParseUint(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return "", fmt.Errorf("invalid socket_id %q", socketID)
	}
	id := clientid.ID{IP: [4]byte{byte(node >> 40), byte(node >> 32), byte(node >> 24), byte(node >> 16)}, Port: uint16(node), Conn: uint32(conn)}
	return id.String(), nil
}
