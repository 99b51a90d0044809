package history

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"thinkgate/internal/hub"
)

// RedisStore keeps streams in the cluster's Redis, so that a client
// recovers on whichever node it reconnects to: per stream a hash (its epoch
// and top offset) and a list of its last Size messages, both expiring TTL
// after the last message. Flushing Redis starts every stream over with a
// new epoch, which clients see as recovered: false.
type RedisStore struct {
	RDB     *redis.Client
	Prefix  string // of the keys: <prefix>:hist:<stream>:meta and :list
	Size    int
	TTL     time.Duration
	Timeout time.Duration
}

// appendScript adds one entry atomically and returns {epoch, offset}.
// A stream whose last message is TTL old (by the caller's clock) starts
// over, as one Redis expired would.
var appendScript = redis.NewScript(`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if epoch and tonumber(ARGV[5]) - last >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  epoch = false
end
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
redis.call('HSET', KEYS[1], 'last', ARGV[5])
local top = redis.call('HINCRBY', KEYS[1], 'top', 1)
redis.call('RPUSH', KEYS[2], top .. ':' .. ARGV[4])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {epoch, top}
`)

func (s *RedisStore) keys(stream string) []string {
	k := s.Prefix + ":hist:" + stream
	return []string{k + ":meta", k + ":list"}
}

func (s *RedisStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.Timeout)
}

// encodeEntry is an entry as kept: unix ms, flags, the event's length and
// name, then the data.
func encodeEntry(e Entry, now time.Time) []byte {
	b := binary.AppendUvarint(nil, uint64(now.UnixMilli()))
	flags := byte(0)
	if e.Binary {
		flags = 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(e.Event)))
	b = append(b, e.Event...)
	return append(b, e.Data...)
}

var errCorrupt = errors.New("history: corrupt entry in Redis")

func decodeEntry(raw string) (Entry, time.Time, error) {
	i := 0
	for i < len(raw) && raw[i] != ':' {
		i++
	}
	off, err := strconv.ParseUint(raw[:i], 10, 64)
	if err != nil || i == len(raw) {
		return Entry{}, time.Time{}, errCorrupt
	}
	b := []byte(raw[i+1:])
	ms, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return Entry{}, time.Time{}, errCorrupt
	}
	b = b[n:]
	e := Entry{Offset: off, Binary: b[0]&1 != 0}
	b = b[1:]
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return Entry{}, time.Time{}, errCorrupt
	}
	e.Event = string(b[n : n+int(l)])
	e.Data = b[n+int(l):]
	return e, time.UnixMilli(int64(ms)), nil
}

// Append adds e to stream.
func (s *RedisStore) Append(stream string, e Entry, now time.Time) (hub.Position, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := appendScript.Run(ctx, s.RDB, s.keys(stream), newEpoch(), s.Size, s.TTL.Milliseconds(), encodeEntry(e, now), now.UnixMilli()).Slice()
	if err != nil {
		return hub.Position{}, fmt.Errorf("history append to %s: %w", stream, err)
	}
	epoch, _ := res[0].(string)
	top, _ := res[1].(int64)
	return hub.Position{Stream: stream, Offset: uint64(top), Epoch: epoch}, nil
}

// Since returns what stream holds after offset.
func (s *RedisStore) Since(stream string, offset uint64, epoch string, now time.Time) ([]Entry, hub.Position, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	k := s.keys(stream)
	pipe := s.RDB.Pipeline()
	meta := pipe.HGetAll(ctx, k[0])
	list := pipe.LRange(ctx, k[1], 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, hub.Position{}, false, fmt.Errorf("history read of %s: %w", stream, err)
	}
	m := meta.Val()
	last, _ := strconv.ParseInt(m["last"], 10, 64)
	if m["epoch"] == "" || now.Sub(time.UnixMilli(last)) >= s.TTL {
		return nil, hub.Position{Stream: stream}, epoch == "" && offset == 0, nil
	}
	topOff, _ := strconv.ParseUint(m["top"], 10, 64)
	top := hub.Position{Stream: stream, Offset: topOff, Epoch: m["epoch"]}
	if epoch != top.Epoch || offset > topOff {
		return nil, top, false, nil
	}
	var out []Entry
	for _, raw := range list.Val() {
		e, at, err := decodeEntry(raw)
		if err != nil {
			return nil, top, false, err
		}
		if e.Offset > offset && now.Sub(at) < s.TTL {
			out = append(out, e)
		}
	}
	if (len(out) > 0 && out[0].Offset != offset+1) || (len(out) == 0 && offset < topOff) {
		return nil, top, false, nil
	}
	return out, top, true, nil
}
