// Package inbox keeps messages for uids that had no client when they were
// sent (sendToUid with "store": true, or every send to the uids [inbox]
// names) and delivers them when the uid next connects: on one node in
// memory, in a cluster in its Redis (docs/recovery.md).
package inbox

import (
	"strings"
	"sync"
	"time"

	"thinkgate/internal/hub"
)

// Message is one kept message.
type Message struct {
	Data      []byte
	Binary    bool
	Event     string
	Positions []hub.Position
	At        time.Time
}

// Store keeps inboxes, each bounded and expiring.
type Store interface {
	// Push keeps m for uid, dropping the oldest past the size.
	Push(uid string, m Message) error
	// Take removes and returns uid's messages not older than the TTL, oldest first.
	Take(uid string, now time.Time) ([]Message, error)
	// Count is how many messages uid has waiting.
	Count(uid string, now time.Time) (int, error)
	// Clear drops uid's messages and says how many there were.
	Clear(uid string, now time.Time) (int, error)
}

// Doer keeps sends to uids without a client in Store and answers the inbox
// operations; everything else goes to Next.
type Doer struct {
	Next hub.Doer
	// Deliver runs the sends of kept messages (Online); nil: Next. It is
	// the gateway without message history, which recorded them already.
	Deliver hub.Doer
	Store   Store
	// Always lists uid prefixes whose sends are kept without "store"
	// ("*": all).
	Always []string
	Now    func() time.Time // nil: time.Now

	mu       sync.Mutex
	draining map[string]bool
}

func (d *Doer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Doer) keeps(cmd *hub.Command, uid string) bool {
	if cmd.Store {
		return true
	}
	for _, p := range d.Always {
		if p == "*" || strings.HasPrefix(uid, p) {
			return true
		}
	}
	return false
}

// Do runs cmd. A sendToUid that reaches no client of a uid that keeps its
// messages stores the message for it; the result counts the clients it
// reached, as always.
func (d *Doer) Do(cmd *hub.Command) (any, error) {
	switch cmd.Op {
	case hub.OpGetInboxCount:
		return d.Store.Count(cmd.UIDs[0], d.now())
	case hub.OpClearInbox:
		return d.Store.Clear(cmd.UIDs[0], d.now())
	case hub.OpSendToUid:
	default:
		return d.Next.Do(cmd)
	}
	if cmd.Message == nil || cmd.Message.Raw || len(cmd.UIDs) == 0 {
		return d.Next.Do(cmd)
	}
	keep := false
	for _, u := range cmd.UIDs {
		keep = keep || d.keeps(cmd, u)
	}
	if !keep {
		return d.Next.Do(cmd)
	}
	// One uid at a time, to know which had nobody.
	total := 0
	for _, u := range cmd.UIDs {
		one := *cmd
		one.UIDs = []string{u}
		res, err := d.Next.Do(&one)
		if err != nil {
			return total, err
		}
		n, _ := res.(int)
		total += n
		if n == 0 && d.keeps(cmd, u) {
			m := cmd.Message
			if err := d.Store.Push(u, Message{Data: m.Data, Binary: m.Binary, Event: m.Event, Positions: m.Positions, At: d.now()}); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Online delivers uid's inbox to its clients (the hub's presence hook calls
// it when the uid gets its first client on this node); it does not block.
func (d *Doer) Online(uid string) {
	d.mu.Lock()
	if d.draining == nil {
		d.draining = map[string]bool{}
	}
	if d.draining[uid] {
		d.mu.Unlock()
		return
	}
	d.draining[uid] = true
	d.mu.Unlock()
	go func() {
		defer func() {
			d.mu.Lock()
			delete(d.draining, uid)
			d.mu.Unlock()
		}()
		msgs, err := d.Store.Take(uid, d.now())
		if err != nil {
			return
		}
		deliver := d.Deliver
		if deliver == nil {
			deliver = d.Next
		}
		for _, m := range msgs {
			deliver.Do(&hub.Command{Op: hub.OpSendToUid, UIDs: []string{uid},
				Message: &hub.Message{Data: m.Data, Binary: m.Binary, Event: m.Event, Positions: m.Positions}})
		}
	}()
}
