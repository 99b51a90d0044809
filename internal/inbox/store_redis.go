package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore keeps inboxes in the cluster's Redis, so a uid gets its inbox
// on whichever node it connects to: a list per uid of its last Size
// messages, expiring TTL after the last one.
type RedisStore struct {
	RDB     *redis.Client
	Prefix  string
	Size    int
	TTL     time.Duration
	Timeout time.Duration
}

func (s *RedisStore) key(uid string) string { return s.Prefix + ":inbox:" + uid }

func (s *RedisStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.Timeout)
}

// Push keeps m for uid.
func (s *RedisStore) Push(uid string, m Message) error {
	b, _ := json.Marshal(m)
	ctx, cancel := s.ctx()
	defer cancel()
	pipe := s.RDB.TxPipeline()
	pipe.RPush(ctx, s.key(uid), b)
	pipe.LTrim(ctx, s.key(uid), int64(-s.Size), -1)
	pipe.PExpire(ctx, s.key(uid), s.TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("inbox push for %s: %w", uid, err)
	}
	return nil
}

// takeScript returns a list and deletes it, at once.
var takeScript = redis.NewScript(`
local l = redis.call('LRANGE', KEYS[1], 0, -1)
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
return l
`)

func (s *RedisStore) read(uid string, now time.Time, remove bool) ([]Message, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	flag := "0"
	if remove {
		flag = "1"
	}
	raw, err := takeScript.Run(ctx, s.RDB, []string{s.key(uid)}, flag).StringSlice()
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("inbox read for %s: %w", uid, err)
	}
	var out []Message
	for _, r := range raw {
		var m Message
		if json.Unmarshal([]byte(r), &m) == nil && now.Sub(m.At) < s.TTL {
			out = append(out, m)
		}
	}
	return out, nil
}

// Take removes and returns uid's messages.
func (s *RedisStore) Take(uid string, now time.Time) ([]Message, error) {
	return s.read(uid, now, true)
}

// Count is how many messages uid has waiting.
func (s *RedisStore) Count(uid string, now time.Time) (int, error) {
	m, err := s.read(uid, now, false)
	return len(m), err
}

// Clear drops uid's messages.
func (s *RedisStore) Clear(uid string, now time.Time) (int, error) {
	m, err := s.read(uid, now, true)
	return len(m), err
}
