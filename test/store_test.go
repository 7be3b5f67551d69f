package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// redisConfig is a proxy config with the Redis store on addrs.
func redisConfig(upstream string, addrs ...string) config {
	return baseConfig(upstream).
		set("store.type", "redis").
		set("store.redis.addrs", addrs).
		set("store.redis.timeout", "500ms")
}

// redisKey is where the proxy keeps session sid in the secure format:
// the key prefix (default koa:sess:) and the hex SHA-256 of the id.
func redisKey(sid any, prefix ...string) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(sid)))
	p := "koa:sess:"
	if len(prefix) > 0 {
		p = prefix[0]
	}
	return p + hex.EncodeToString(sum[:])
}

func TestSeedWithStores(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		seedFlow(t, startProxy(t, baseConfig(up).set("store.type", "memory")))
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		seedFlow(t, startProxy(t, redisConfig(up, redistest.Start(t).Addr)))
	})
	t.Run("redis cluster", func(t *testing.T) {
		t.Parallel()
		cl := redistest.StartCluster(t)
		p := startProxy(t, redisConfig(up, cl.Addrs()...))
		seedFlow(t, p)
		// The sessions really are in the cluster.
		c := newClient(t)
		_, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
		if n := cl.Client(t).Exists(t.Context(), redisKey(e.Claims["sid"])).Val(); n != 1 {
			t.Errorf("the session is not in the cluster (EXISTS = %d)", n)
		}
	})
}

// SPEC §4: concurrent requests on one session that set different keys
// must all survive.
func TestConcurrentSetsAllSurvive(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	stores := map[string]func(t *testing.T) config{
		"memory": func(t *testing.T) config { return baseConfig(up).set("store.type", "memory") },
		"redis":  func(t *testing.T) config { return redisConfig(up, redistest.Start(t).Addr) },
	}
	for name, cfg := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, cfg(t))
			c := newClient(t)
			getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"seed":true}`))
			const n = 50
			var wg sync.WaitGroup
			status := make(chan int, n)
			for i := range n {
				wg.Go(func() {
					patch := url.QueryEscape(fmt.Sprintf(`{"k%d":%d}`, i, i))
					resp, err := c.Get(p.URL + "/echo?set=" + patch)
					if err != nil {
						status <- 0
						return
					}
					resp.Body.Close()
					status <- resp.StatusCode
				})
			}
			wg.Wait()
			close(status)
			for s := range status {
				if s != http.StatusOK {
					t.Fatalf("a concurrent request got status %d", s)
				}
			}
			_, e := getEcho(t, c, p.URL+"/echo")
			for i := range n {
				if _, ok := e.Session[fmt.Sprintf("k%d", i)]; !ok {
					t.Errorf("k%d was lost", i)
				}
			}
			if len(e.Session) != n+1 {
				t.Errorf("session has %d keys, want %d", len(e.Session), n+1)
			}
		})
	}
}

func TestRedisRenewAndDestroyDeleteTheKey(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	p := startProxy(t, redisConfig(startUpstream(t), srv.Addr))
	ctx := t.Context()
	c := newClient(t)
	u, _ := url.Parse(p.URL)

	get(t, c, p.URL+"/set")
	_, e := getEcho(t, c, p.URL+"/echo")
	oldKey := redisKey(e.Claims["sid"])
	if rdb.Exists(ctx, oldKey).Val() != 1 {
		t.Fatalf("the session is not at %s; keys: %v", oldKey, rdb.Keys(ctx, "*").Val())
	}
	oldCookies := c.Jar.Cookies(u)

	get(t, c, p.URL+"/renew")
	_, e = getEcho(t, c, p.URL+"/echo")
	newKey := redisKey(e.Claims["sid"])
	if rdb.Exists(ctx, oldKey).Val() != 0 {
		t.Error("renew left the old id's key in Redis")
	}
	if rdb.Exists(ctx, newKey).Val() != 1 || e.Session["user"] == nil {
		t.Errorf("after renew: new key exists %d, session %v", rdb.Exists(ctx, newKey).Val(), e.Session)
	}
	if _, e := getEcho(t, http.DefaultClient, p.URL+"/echo", cookieHeader(oldCookies)); e.Claims["new"] != true || len(e.Session) != 0 {
		t.Errorf("the pre-renew cookie still opens a session: %v %v", e.Claims, e.Session)
	}

	renewed := c.Jar.Cookies(u)
	get(t, c, p.URL+"/destroy")
	if n := rdb.Exists(ctx, newKey).Val(); n != 0 {
		t.Error("destroy left the key in Redis")
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Errorf("Redis still holds %v", keys)
	}
	if _, e := getEcho(t, http.DefaultClient, p.URL+"/echo", cookieHeader(renewed)); e.Claims["new"] != true || len(e.Session) != 0 {
		t.Errorf("a replayed cookie found a destroyed session: %v %v", e.Claims, e.Session)
	}
}

// Every key expires with its session (maxAge + 10 s, as koa-session asks
// its store), and rolling re-arms the expiry on every request.
func TestRedisTTLAndRolling(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	up := startUpstream(t)
	ctx := t.Context()
	for _, rolling := range []bool{false, true} {
		t.Run(fmt.Sprintf("rolling %v", rolling), func(t *testing.T) {
			prefix := fmt.Sprintf("r%v:", rolling)
			p := startProxy(t, redisConfig(up, srv.Addr).
				set("session.maxAge", "1h").set("session.rolling", rolling).set("store.redis.keyPrefix", prefix))
			c := newClient(t)
			for i := range 3 {
				getEcho(t, newClient(t), p.URL+fmt.Sprintf("/echo?set=%%7B%%22n%%22:%d%%7D", i))
			}
			_, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"mine":1}`))
			keys := rdb.Keys(ctx, prefix+"*").Val()
			if len(keys) != 4 {
				t.Fatalf("keys %v, want 4", keys)
			}
			for _, k := range keys {
				if ttl := rdb.PTTL(ctx, k).Val(); ttl <= time.Hour || ttl > time.Hour+10*time.Second {
					t.Errorf("%s has TTL %v, want maxAge + 10s", k, ttl)
				}
			}
			// Shorten the TTL by hand, then make a request that changes
			// nothing: only rolling saves, and so re-arms the expiry.
			key := redisKey(e.Claims["sid"], prefix)
			rdb.PExpire(ctx, key, time.Minute)
			resp, _ := getEcho(t, c, p.URL+"/echo")
			ttl := rdb.PTTL(ctx, key).Val()
			switch {
			case rolling && ttl <= time.Hour:
				t.Errorf("rolling did not refresh the TTL: %v", ttl)
			case rolling && len(sessionCookies(resp, "koa.sess")) == 0:
				t.Error("rolling did not re-issue the cookie")
			case !rolling && ttl > time.Minute:
				t.Errorf("without rolling an unchanged session was saved (TTL %v)", ttl)
			}
		})
	}
}

// SPEC §4: an outage never logs anyone out.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := startProxy(t, redisConfig(startUpstream(t), srv.Addr))
	c := newClient(t)
	get(t, c, p.URL+"/set")
	u, _ := url.Parse(p.URL)
	cookies := c.Jar.Cookies(u)
	if r, _ := get(t, http.DefaultClient, p.Admin+"/readyz"); r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d with Redis up", r.StatusCode)
	}

	srv.Pause(t)
	paused := true
	defer func() {
		if paused {
			srv.Resume(t)
		}
	}()
	for _, path := range []string{"/get", "/echo?set=" + url.QueryEscape(`{"n":1}`)} {
		start := time.Now()
		resp, body := get(t, c, p.URL+path)
		t.Logf("%s with Redis paused answered %d in %v", path, resp.StatusCode, time.Since(start).Round(time.Millisecond))
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis paused: %d, Retry-After %q, body %q; want 503 with Retry-After",
				path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if len(sessionCookies(resp, "koa.sess")) != 0 {
			t.Errorf("%s with Redis paused touched the cookie: %v", path, resp.Header["Set-Cookie"])
		}
	}
	if r, _ := get(t, http.DefaultClient, p.Admin+"/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d with Redis paused, want 503", r.StatusCode)
	}
	if r, _ := get(t, http.DefaultClient, p.Admin+"/healthz"); r.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d with Redis paused, want 200", r.StatusCode)
	}

	srv.Resume(t)
	paused = false
	waitReady(t, p)
	if _, body := get(t, http.DefaultClient, p.URL+"/get", cookieHeader(cookies)); !sameJSON(t, body, `{"age":30,"name":"john doe"}`) {
		t.Errorf("after Redis came back, /get = %q: the session was lost", body)
	}
}

// TestRedisDownLogsOnlyJSON: with Redis not there at all, the proxy
// starts, answers 503, and everything it writes, the Redis client's own
// complaints included, is one JSON object a line, as log.format json
// promises to whatever collects the log.
func TestRedisDownLogsOnlyJSON(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	p := startProxy(t, redisConfig(startUpstream(t), addr))
	for range 3 {
		if resp, body := get(t, newClient(t), p.URL+"/set"); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/set with no Redis: %d %q, want 503", resp.StatusCode, body)
		}
	}
	p.stop(t)
	for _, line := range strings.Split(strings.TrimSpace(p.Output()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line is not JSON: %q", line)
		}
	}
}

// waitReady waits, bounded, for the proxy's /readyz to answer 200.
func waitReady(t *testing.T, p *proxy) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r, err := http.Get(p.Admin + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never recovered after Redis came back")
		}
	}
}

// cookieHeader renders cookies as a "Cookie: ..." header for get.
func cookieHeader(cs []*http.Cookie) string {
	h := "Cookie: "
	for i, c := range cs {
		if i > 0 {
			h += "; "
		}
		h += c.Name + "=" + c.Value
	}
	return h
}
