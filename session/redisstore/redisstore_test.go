package redisstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
	"github.com/sessionproxy/sessionproxy/session"
	"github.com/sessionproxy/sessionproxy/session/redisstore"
	"github.com/sessionproxy/sessionproxy/session/sessiontest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cases := []struct {
		name string
		opts redisstore.Options
	}{
		{"plain ids", redisstore.Options{Prefix: "koa:sess:"}},
		{"hashed ids", redisstore.Options{Prefix: "sp:", HashIDs: true}},
		{"pipelined", redisstore.Options{Prefix: "sp:", HashIDs: true, Pipeline: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sessiontest.TestStore(t, func(t *testing.T) session.Store {
				return newStore(t, srv.Client(t), tc.opts)
			})
		})
	}
}

func TestClusterConformance(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t)
	for _, pipeline := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipeline=%v", pipeline), func(t *testing.T) {
			sessiontest.TestStore(t, func(t *testing.T) session.Store {
				return newStore(t, cl.Client(t), redisstore.Options{Prefix: "koa:sess:", Pipeline: pipeline})
			})
		})
	}
}

func TestUserIndexConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cl := redistest.StartCluster(t)
	cases := []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
		opts   redisstore.Options
	}{
		{"plain ids", func(t *testing.T) redis.UniversalClient { return srv.Client(t) }, redisstore.Options{Prefix: "koa:sess:"}},
		{"hashed ids, pipelined", func(t *testing.T) redis.UniversalClient { return srv.Client(t) }, redisstore.Options{Prefix: "sp:", HashIDs: true, Pipeline: true}},
		{"cluster", func(t *testing.T) redis.UniversalClient { return cl.Client(t) }, redisstore.Options{Prefix: "sp:", HashIDs: true, Pipeline: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sessiontest.TestUserIndex(t, func(t *testing.T) sessiontest.IndexStore {
				return newStore(t, tc.client(t), tc.opts)
			})
		})
	}
}

// The index's keys never name a session id where ids are hashed: the
// set's key holds the user's hash, its members the sessions' keys.
func TestUserIndexLayout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := newStore(t, rdb, redisstore.Options{Prefix: "sp:", HashIDs: true})
	ctx := t.Context()
	if err := s.AddUser(ctx, "u1", "the-session-id", time.Hour); err != nil {
		t.Fatal(err)
	}
	members := rdb.ZRange(ctx, "sp:user:u1", 0, -1).Val()
	if len(members) != 1 || members[0] != s.Key("the-session-id") {
		t.Errorf("sp:user:u1 holds %v, want the session's hashed key", members)
	}
	if ttl := rdb.PTTL(ctx, "sp:user:u1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("the index's TTL is %v, want about an hour", ttl)
	}
}

func newStore(t testing.TB, client redis.UniversalClient, o redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The layout is what koa-session with koa-redis 4.x writes: a string at
// prefix+id holding the record, with an expiry.
func TestLayout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	rec := []byte(`{"user":"john","_expire":1700000000000,"_maxAge":86400000}`)
	hashed := func(id string) string {
		sum := sha256.Sum256([]byte(id))
		return "sp:" + hex.EncodeToString(sum[:])
	}
	long := strings.Repeat("i", 100) // longer than Key's stack buffer
	cases := []struct {
		name string
		opts redisstore.Options
		id   string
		key  string
	}{
		{"plain", redisstore.Options{Prefix: "koa:sess:"}, "abc", "koa:sess:abc"},
		{"no prefix", redisstore.Options{}, "abc", "abc"},
		{"hashed", redisstore.Options{Prefix: "sp:", HashIDs: true}, "abc", hashed("abc")},
		{"hashed, a long id", redisstore.Options{Prefix: "sp:", HashIDs: true}, long, hashed(long)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, rdb, tc.opts)
			if err := s.Save(ctx, tc.id, rec, 86410*time.Second); err != nil {
				t.Fatal(err)
			}
			if got, err := rdb.Get(ctx, tc.key).Bytes(); err != nil || string(got) != string(rec) {
				t.Fatalf("GET %s = %q, %v; want the record", tc.key, got, err)
			}
			if ttl := rdb.TTL(ctx, tc.key).Val(); ttl <= 86400*time.Second || ttl > 86410*time.Second {
				t.Errorf("TTL %s = %v, want about 86410s", tc.key, ttl)
			}
			if err := s.Update(ctx, tc.id, nil, func([]byte, bool) ([]byte, time.Duration, error) {
				return rec, time.Hour, nil
			}); err != nil {
				t.Fatal(err)
			}
			if ttl := rdb.TTL(ctx, tc.key).Val(); ttl > time.Hour || ttl < 59*time.Minute {
				t.Errorf("after Update, TTL %s = %v, want the new 1h", tc.key, ttl)
			}
		})
	}
}

// A Redis that does not answer is an error within the timeout, never
// "missing", and every operation answers.
// A Redis that refuses the connection's setup (here a db it does not
// have; a wrong password or an ACL that forbids CLIENT SETNAME alike) is
// an error for every operation, pipelined or not: not a miss that logs
// the user out, nor a write that seems done.
func TestRefusedConnectionSetupIsAnError(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, pipeline := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipeline=%v", pipeline), func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 99, MaxRetries: -1})
			t.Cleanup(func() { client.Close() })
			s := newStore(t, client, redisstore.Options{Prefix: "p:", Pipeline: pipeline})
			if _, found, err := s.Load(t.Context(), "some-id"); err == nil {
				t.Errorf("Load: found %v, no error", found)
			}
			if err := s.Save(t.Context(), "some-id", []byte(`{"a":1}`), time.Minute); err == nil {
				t.Error("Save: no error")
			}
			if err := s.Delete(t.Context(), "some-id"); err == nil {
				t.Error("Delete: no error")
			}
		})
	}
}

func TestPausedRedisIsAnError(t *testing.T) {
	t.Parallel()
	for _, pipeline := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipeline=%v", pipeline), func(t *testing.T) {
			t.Parallel()
			testPausedRedis(t, pipeline)
		})
	}
}

func testPausedRedis(t *testing.T, pipeline bool) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := newStore(t, rdb, redisstore.Options{Timeout: 300 * time.Millisecond, Pipeline: pipeline})
	ctx := t.Context()
	if err := s.Save(ctx, "id", []byte(`{"n":1}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume(t)
		}
	}()
	// Each operation fails within about the store's timeout, not the
	// client's 3 s read timeout, even with earlier commands stuck in
	// the pipeline ahead of it. (The bound is generous: what it catches
	// is a wait of many seconds, not a slow machine.)
	ops := []struct {
		name string
		do   func() error
	}{
		{"Load", func() error { _, _, err := s.Load(ctx, "id"); return err }},
		{"Save", func() error { return s.Save(ctx, "id", []byte(`{}`), time.Hour) }},
		{"Update", func() error {
			return s.Update(ctx, "id", nil, func([]byte, bool) ([]byte, time.Duration, error) { return []byte(`{}`), time.Hour, nil })
		}},
		{"Delete", func() error { return s.Delete(ctx, "other") }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.do()
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s on a paused Redis answered after %v; want about the 300ms timeout", op.name, took)
		}
		if err == nil {
			t.Errorf("%s on a paused Redis: no error", op.name)
		}
	}
	srv.Resume(t)
	resumed = true
	// The write attempts may have reached Redis before the timeout; what
	// matters is that a Redis that answers again is read normally.
	if err := s.Ping(ctx); err != nil {
		// The first command after the pause may meet a connection the
		// timeout closed; go-redis dials a new one on the next.
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after SIGCONT: %v", err)
		}
	}
	if _, ok, err := s.Load(ctx, "id"); !ok || err != nil {
		t.Errorf("Load after SIGCONT: ok %v, err %v; want the session", ok, err)
	}
}

// Update's compare-and-set script is sent again when Redis has lost it,
// as after a restart or on a new Cluster node.
func TestUpdateAfterScriptFlush(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	for _, pipeline := range []bool{false, true} {
		s := newStore(t, rdb, redisstore.Options{Pipeline: pipeline})
		for i := range 2 { // before the script is loaded, and after
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf(`{"n":%d}`, i)
			if err := s.Update(ctx, "id", nil, func([]byte, bool) ([]byte, time.Duration, error) {
				return []byte(want), time.Hour, nil
			}); err != nil {
				t.Fatalf("pipeline=%v: Update after SCRIPT FLUSH: %v", pipeline, err)
			}
			if got, err := rdb.Get(ctx, "id").Result(); got != want || err != nil {
				t.Fatalf("pipeline=%v: GET id = %q, %v; want %s", pipeline, got, err, want)
			}
		}
	}
}
