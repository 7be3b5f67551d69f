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
	// Pipeline sends Load's, Save's and Delete's commands through
	// go-redis's automatic pipeliner (Client.AutoPipeline): the commands
	// of concurrent requests share one write and one read on one
	// connection, instead of a round trip and two system calls each.
	// Under load that halves what a read costs the proxy in CPU; a lone
	// request still goes out at once. Update's WATCH transaction always
	// runs on a connection of its own.
	Pipeline bool
}

// Store is a session.Store in Redis. Create it with New.
type Store struct {
	client redis.UniversalClient
	cmds   redis.Cmdable // client, or its automatic pipeliner (Options.Pipeline)
	opts   Options
}

var _ session.Store = (*Store)(nil)

// New returns a Store on client. The client stays the caller's to
// close; closing it also stops the pipeliner.
func New(client redis.UniversalClient, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	s := &Store{client: client, cmds: client, opts: o}
	if o.Pipeline {
		ap, err := client.AutoPipelineWithOptions(&redis.AutoPipelineOptions{
			// 100, not the default 300: go-redis pools batch slices of
			// capacity 100 and allocates a new one (4.8 KB) for every
			// batch when the size is larger. A batch that fills up is
			// followed at once by the next.
			MaxBatchSize:         100,
			MaxConcurrentBatches: 1,
		})
		if err != nil {
			return nil, fmt.Errorf("redis pipeliner: %w", err)
		}
		s.cmds = ap
	}
	return s, nil
}

// Key returns the Redis key of session id.
func (s *Store) Key(id string) string {
	if s.opts.HashIDs {
		sum := sha256.Sum256([]byte(id))
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
//
// (Load, Save and Delete check ctx first: the pipeliner would send a
// command whose context is already cancelled.)
func (s *Store) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("redis GET: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	b, err := s.cmds.Get(ctx, s.Key(id)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("redis GET: %w", err)
	}
	return b, true, nil
}

// Save stores record under id, expiring after ttl.
func (s *Store) Save(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis SET: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.cmds.Set(ctx, s.Key(id), record, pxTTL(ttl)).Err(); err != nil {
		return fmt.Errorf("redis SET: %w", err)
	}
	return nil
}

// Delete removes id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis DEL: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.cmds.Del(ctx, s.Key(id)).Err(); err != nil {
		return fmt.Errorf("redis DEL: %w", err)
	}
	return nil
}

// Update replaces the record under id with what fn returns, as an
// optimistic transaction: WATCH the key, GET it, run fn, then SET it in
// MULTI/EXEC, which Redis refuses if another client wrote the key since
// the WATCH; then it starts over. Being one key, this works on a Cluster.
func (s *Store) Update(ctx context.Context, id string, fn session.UpdateFunc) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	key := s.Key(id)
	var fnErr error
	txf := func(tx *redis.Tx) error {
		cur, err := tx.Get(ctx, key).Bytes()
		ok := err == nil
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		next, ttl, err := fn(cur, ok)
		if err != nil {
			fnErr = err
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, next, pxTTL(ttl))
			return nil
		})
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.client.Watch(ctx, txf, key)
		switch {
		case err == nil:
			return nil
		case fnErr != nil:
			return fnErr
		case !errors.Is(err, redis.TxFailedErr):
			return fmt.Errorf("redis update: %w", err)
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
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
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
