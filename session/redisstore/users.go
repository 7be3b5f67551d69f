package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/session"
)

// The user index (session.UserIndex): one sorted set per user, at
// Options.UserPrefix + the user's name, whose members are the refs (the
// Redis keys) of the user's sessions, each scored with the time (ms since
// the epoch) its listing ends. The set itself expires with its last
// listing. Every command names one key, so it works on a Cluster; the
// sessions' keys are untouched, so koa-session with koa-redis sharing
// the store sees nothing of it.

// addUserScript lists ARGV[1] in KEYS[1] until ARGV[2] (ms), drops the
// listings that ended before ARGV[3] (now), and makes the set live at
// least ARGV[4] ms.
const addUserScript = `
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur or tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`

var addUserHash = redis.NewScript(addUserScript).Hash()

// maxConcurrentReads bounds the records UserSessions reads at once.
const maxConcurrentReads = 64

// Ref returns the Redis key of session id: the index lists keys, which
// name no session id where ids are hashed.
func (s *Store) Ref(id string) string { return s.Key(id) }

func (s *Store) userKey(user string) string { return s.opts.UserPrefix + user }

// AddUser lists session id under user for at least ttl.
func (s *Store) AddUser(ctx context.Context, user, id string, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := time.Now()
	ms := pxTTL(ttl).Milliseconds()
	args := []any{s.Key(id), now.UnixMilli() + ms, now.UnixMilli(), ms}
	cmd := redis.NewCmd(ctx, append([]any{"evalsha", addUserHash, 1, s.userKey(user)}, args...)...)
	err := s.do(ctx, cmd)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewCmd(ctx, append([]any{"eval", addUserScript, 1, s.userKey(user)}, args...)...)
		err = s.do(ctx, cmd)
	}
	if err != nil {
		return fmt.Errorf("redis user index add: %w", err)
	}
	return nil
}

// RemoveUser takes session id off user's list.
func (s *Store) RemoveUser(ctx context.Context, user, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.do(ctx, redis.NewIntCmd(ctx, "zrem", s.userKey(user), s.Key(id))); err != nil {
		return fmt.Errorf("redis ZREM: %w", err)
	}
	return nil
}

// UserSessions returns the sessions listed under user, with their
// records (nil where the store has none).
func (s *Store) UserSessions(ctx context.Context, user string) ([]session.Listed, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	list := redis.NewStringSliceCmd(ctx, "zrangebyscore", s.userKey(user), "("+strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf")
	if err := s.do(ctx, list); err != nil {
		return nil, fmt.Errorf("redis ZRANGEBYSCORE: %w", err)
	}
	refs := list.Val()
	out := make([]session.Listed, len(refs))
	// The records are read concurrently: with Options.Pipeline they go
	// out as one batch, and on a Cluster each to its node.
	errs := make(chan error, len(refs))
	sem := make(chan struct{}, maxConcurrentReads)
	for i, ref := range refs {
		out[i].Ref = ref
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			rec, ok, err := s.get(ctx, ref)
			if ok {
				out[i].Record = rec
			}
			errs <- err
		}()
	}
	for range refs {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	return out, nil
}

// End sets the key ref to record for ttl, whatever it held.
func (s *Store) End(ctx context.Context, ref string, record []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.do(ctx, redis.NewStatusCmd(ctx, "set", ref, record, "px", pxTTL(ttl).Milliseconds())); err != nil {
		return fmt.Errorf("redis SET: %w", err)
	}
	return nil
}
