// Package redisstore keeps sessions in Redis (standalone, Sentinel or
// Cluster, through go-redis's UniversalClient), so that several proxy
// replicas share them.
//
// Layout: one Redis string per session, the koa-layout record as JSON
// (the session data with "_expire" and "_maxAge"), set with a PX expiry.
// The key is Prefix + id, which is exactly what koa-session with
// koa-redis 4.x reads and writes; with HashIDs it is Prefix + the hex
// SHA-256 of the id instead, so that a Redis dump or a KEYS listing names
// no live session id.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/session"
)

// DefaultTimeout bounds each operation when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Options configures a Store. Zero fields take the documented defaults.
type Options struct {
	// Prefix is put before every key. Default none.
	Prefix string
	// HashIDs keys sessions by the SHA-256 of their id rather than the
	// id itself. Leave it off to share sessions with koa-redis.
	HashIDs bool
	// Timeout bounds every operation, Update's retries included, so that
	// an unreachable Redis answers with an error in that time instead of
	// hanging the request. The client should have ContextTimeoutEnabled
	// set so that its reads honour it. Default DefaultTimeout.
	Timeout time.Duration
	// UserPrefix starts the key of each user's list of sessions (a sorted
	// set, for session.Options.UserKey): UserPrefix + the user's name in
	// the index, a hex hash. It must not start any session's key. Default
	// Prefix + "user:".
	UserPrefix string
	// Pipeline sends the commands of concurrent operations together, as
	// one go-redis pipeline (see batcher): they share one write and one
	// read on one connection, instead of a round trip and two system
	// calls each. Under load that more than halves what a read costs the
	// proxy in CPU; a lone command still goes out at once.
	Pipeline bool
}

// Store is a session.Store in Redis. Create it with New.
type Store struct {
	client    redis.UniversalClient
	batch     *batcher // nil unless Options.Pipeline
	opts      Options
	deadlines *deadlines
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// New returns a Store on client. The client stays the caller's to close.
func New(client redis.UniversalClient, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserPrefix == "" {
		o.UserPrefix = o.Prefix + "user:"
	}
	s := &Store{client: client, opts: o, deadlines: newDeadlines(o.Timeout)}
	if o.Pipeline {
		s.batch = newBatcher(client, s.deadlines)
	}
	return s, nil
}

// bound returns the context an operation runs under, ending Options.Timeout
// from now at the latest. A ctx without a deadline (a server request's) is
// only checked at the start: the operation then runs under a context
// shared with others that started at about the same time, and ends at its
// timeout even if ctx is cancelled meanwhile. A ctx with a deadline
// keeps it, and its cancellation, when sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
		return context.WithTimeout(ctx, s.opts.Timeout)
	}
	return s.deadlines.after(time.Now()), func() {}
}

// do runs cmd and waits for its result until ctx is done.
func (s *Store) do(ctx context.Context, cmd redis.Cmder) error {
	// Checked first: a queued command is sent whatever its context.
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.batch == nil {
		return s.client.Process(ctx, cmd)
	}
	return s.batch.do(ctx, cmd)
}

// Key returns the Redis key of session id.
func (s *Store) Key(id string) string {
	if s.opts.HashIDs {
		var buf [64]byte // the id's bytes, on the stack while it fits
		sum := sha256.Sum256(append(buf[:0], id...))
		var digits [2 * sha256.Size]byte
		hex.Encode(digits[:], sum[:])
		var k strings.Builder // one allocation, for a key on every request
		k.Grow(len(s.opts.Prefix) + len(digits))
		k.WriteString(s.opts.Prefix)
		k.Write(digits[:])
		return k.String()
	}
	return s.opts.Prefix + id
}

// Load returns the record saved under id.
func (s *Store) Load(ctx context.Context, id string) ([]byte, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.get(ctx, s.Key(id))
}

func (s *Store) get(ctx context.Context, key string) ([]byte, bool, error) {
	cmd := redis.NewStringCmd(ctx, "get", key)
	err := s.do(ctx, cmd)
	if err == nil {
		var b []byte
		if b, err = cmd.Bytes(); err == nil {
			return b, true, nil
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("redis GET: %w", err)
}

// Save stores record under id, expiring after ttl.
func (s *Store) Save(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.do(ctx, redis.NewStatusCmd(ctx, "set", s.Key(id), record, "px", pxTTL(ttl).Milliseconds())); err != nil {
		return fmt.Errorf("redis SET: %w", err)
	}
	return nil
}

// Delete removes id.
func (s *Store) Delete(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.do(ctx, redis.NewIntCmd(ctx, "del", s.Key(id))); err != nil {
		return fmt.Errorf("redis DEL: %w", err)
	}
	return nil
}

// swapScript sets KEYS[1] to ARGV[3] with a PX expiry of ARGV[4] only if
// it still holds ARGV[2] (ARGV[1] == "1"), or does not exist (ARGV[1] ==
// "0"): a compare-and-set in one command. It answers 1 when it wrote.
const swapScript = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
`

var swapHash = redis.NewScript(swapScript).Hash()

// swap runs swapScript: EVALSHA, and EVAL when Redis does not have the
// script yet (a restarted server, a new Cluster node).
func (s *Store) swap(ctx context.Context, key string, exists bool, cur, next []byte, ttl time.Duration) (bool, error) {
	flag := "0"
	if exists {
		flag = "1"
	}
	ms := pxTTL(ttl).Milliseconds()
	cmd := redis.NewIntCmd(ctx, "evalsha", swapHash, 1, key, flag, cur, next, ms)
	err := s.do(ctx, cmd)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = redis.NewIntCmd(ctx, "eval", swapScript, 1, key, flag, cur, next, ms)
		err = s.do(ctx, cmd)
	}
	if err != nil {
		return false, err
	}
	return cmd.Val() == 1, nil
}

// Update replaces the record under id with what fn returns, as an
// optimistic transaction: GET the record (or take last, the record the
// caller read), run fn, then write the result with a compare-and-set
// script that refuses if another client changed the record meanwhile;
// then it starts over with a GET. That is one command, or two, pipelined
// with other requests', rather than a WATCH/GET/MULTI/EXEC transaction,
// which needs a connection of its own for its four commands. Being one
// key, it works on a Cluster.
func (s *Store) Update(ctx context.Context, id string, last []byte, fn session.UpdateFunc) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	key := s.Key(id)
	for attempt := 1; ; attempt++ {
		cur, ok := last, last != nil // first the record the caller read: no GET
		if last == nil || attempt > 1 {
			var err error
			if cur, ok, err = s.get(ctx, key); err != nil {
				return err
			}
		}
		next, ttl, err := fn(cur, ok)
		if err != nil {
			return err
		}
		wrote, err := s.swap(ctx, key, ok, cur, next, ttl)
		switch {
		case err != nil:
			return fmt.Errorf("redis update: %w", err)
		case wrote:
			return nil
		}
		// Another write won the race: back off a little, with jitter so
		// that the losers do not collide again, and retry.
		backoff := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis update: gave up after %d conflicting writes: %w", attempt, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// Ping reports whether Redis answers, for readiness checks; on a Cluster
// every master must answer.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
	}
	return s.client.Ping(ctx).Err()
}

// pxTTL keeps a positive ttl from rounding to 0 ms, which Redis would
// take as "no expiry".
func pxTTL(ttl time.Duration) time.Duration {
	return max(ttl, time.Millisecond)
}
