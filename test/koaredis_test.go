package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// The koa-redis tests run the real koa-session 7 with the real koa-redis 4
// (koa-session's external-store mode) and the proxy in the koa format with
// the Redis store, on one redis-server, with the same keys: a session
// either side starts, changes, regenerates or destroys is the other's too.

// koaRedisMaxAge is the maxAge (ms) both sides are configured with.
const koaRedisMaxAge = 3600000

// koaRedisPair is a Koa app with koa-session and koa-redis and a proxy in
// front of the Flask test upstream, sharing one Redis and one key.
type koaRedisPair struct {
	koa, proxy string
	rdb        *redis.Client
}

func startKoaRedisPair(t *testing.T) koaRedisPair {
	t.Helper()
	const key = "koa-redis-key"
	srv := redistest.Start(t)
	koa := startKoaEnv(t, []string{key}, map[string]any{"maxAge": koaRedisMaxAge}, "KOA_REDIS="+srv.Addr)
	p := startProxy(t, koaRedisConfig(startUpstream(t), srv.Addr, key).set("session.maxAge", koaRedisMaxAge))
	return koaRedisPair{koa: koa, proxy: p.URL, rdb: srv.Client(t)}
}

// koaRedisConfig is a proxy config in the koa format with the Redis store
// on addr, koa-redis's layout: the key is the cookie's value.
func koaRedisConfig(upstream, addr string, keys ...string) config {
	return koaConfig(upstream, keys...).
		set("store.type", "redis").
		set("store.redis.addrs", []string{addr}).
		set("store.redis.timeout", "500ms")
}

// sessionID returns the value of the session cookie resp sets (the
// external key), or "" when it sets none.
func sessionID(resp *http.Response) string {
	for _, c := range sessionCookies(resp, "koa.sess") {
		if c.Name == "koa.sess" {
			return c.Value
		}
	}
	return ""
}

// koaRedisRecord checks that Redis holds session id as koa-session with
// koa-redis keeps it: the key is the id itself and starts with
// koa-session's prefix, the value is the JSON of the data with "_expire"
// and "_maxAge", and the key expires a little after the session. It
// returns the data without the bookkeeping members.
func koaRedisRecord(t *testing.T, rdb *redis.Client, id string) map[string]any {
	t.Helper()
	return koaRedisRecordMaxAge(t, rdb, id, koaRedisMaxAge)
}

// koaRedisRecordMaxAge is koaRedisRecord for a session whose own maxAge
// is maxAge ms.
func koaRedisRecordMaxAge(t *testing.T, rdb *redis.Client, id string, maxAge int) map[string]any {
	t.Helper()
	if !strings.HasPrefix(id, "koa:sess:") {
		t.Errorf("session id %q does not start with koa-session's prefix koa:sess:", id)
	}
	raw, err := rdb.Get(t.Context(), id).Result()
	if err != nil {
		t.Fatalf("GET <session id>: %v; keys: %v", err, rdb.Keys(t.Context(), "*").Val())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatalf("the Redis value is not JSON: %v", err)
	}
	expire, ok := rec["_expire"].(float64)
	if !ok || rec["_maxAge"] != float64(maxAge) {
		t.Errorf("record _expire %v, _maxAge %v; want a number and %d", rec["_expire"], rec["_maxAge"], maxAge)
	}
	if left := time.Until(time.UnixMilli(int64(expire))); left <= 0 || left > time.Duration(maxAge)*time.Millisecond {
		t.Errorf("record expires in %v, want within maxAge", left)
	}
	// Both sides keep the entry maxAge + 10 s; the lower bound only
	// catches a TTL that is missing or far too short.
	ttl := rdb.PTTL(t.Context(), id).Val()
	if full := time.Duration(maxAge)*time.Millisecond + 10*time.Second; ttl > full || ttl < full-min(full/2, 5*time.Minute) {
		t.Errorf("the key's TTL is %v, want about maxAge + 10s (%v)", ttl, full)
	}
	delete(rec, "_expire")
	delete(rec, "_maxAge")
	return rec
}

func TestKoaRedisSharesSessions(t *testing.T) {
	t.Parallel()
	s := startKoaRedisPair(t)
	c := plainClient()
	// koa-session itself rounds 9007199254740993 (beyond 2^53).
	koaData := strings.Replace(sessionData, "9007199254740993", "9007199254740992", 1)

	t.Run("koa starts, the proxy reads and writes", func(t *testing.T) {
		resp, k := getKoa(t, c, s.koa+"/set?json="+url.QueryEscape(sessionData))
		id, cookie := sessionID(resp), cookieLine(resp, "koa.sess")
		if !k.IsNew || id == "" {
			t.Fatalf("koa /set: new %v, Set-Cookie %v", k.IsNew, resp.Header["Set-Cookie"])
		}
		koaRedisRecord(t, s.rdb, id)

		resp, e := getEcho(t, c, s.proxy+"/echo", "Cookie: "+cookie)
		if !sameData(t, e.Session, koaData) || e.Claims["new"] != false || e.Claims["sid"] != id {
			t.Fatalf("upstream saw %v (new %v, sid %v), want koa's session %s", e.Session, e.Claims["new"], e.Claims["sid"], koaData)
		}
		if set := resp.Header["Set-Cookie"]; len(set) != 0 {
			t.Errorf("reading an unchanged session set %v", set)
		}

		resp, _ = getEcho(t, c, s.proxy+"/echo?set="+url.QueryEscape(`{"api":"yes","note":null}`), "Cookie: "+cookie)
		if got := sessionID(resp); got != id {
			t.Fatalf("after a write the proxy's cookie names %q, want the same key", got)
		}
		want := `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"n":[1,2.5,-3,null,true,{"deep":{"x":[]}}],"big":9007199254740992,"api":"yes"}`
		if rec := koaRedisRecord(t, s.rdb, id); !sameData(t, rec, want) {
			t.Errorf("Redis holds %v after the proxy's write, want %s", rec, want)
		}
		if _, k = getKoa(t, c, s.koa+"/get", "Cookie: "+cookieLine(resp, "koa.sess")); k.IsNew || !sameData(t, k.Session, want) {
			t.Errorf("koa read %v (new %v) after the proxy's write, want %s", k.Session, k.IsNew, want)
		}
	})

	t.Run("the proxy starts, koa reads and writes", func(t *testing.T) {
		resp, e := getEcho(t, c, s.proxy+"/echo?set="+url.QueryEscape(asciiJSON(sessionData)))
		id, cookie := sessionID(resp), cookieLine(resp, "koa.sess")
		if id == "" || e.Claims["sid"] != id {
			t.Fatalf("proxy: cookie key %q, sid the upstream saw %v; Set-Cookie %v", id, e.Claims["sid"], resp.Header["Set-Cookie"])
		}
		if rec := koaRedisRecord(t, s.rdb, id); !sameData(t, rec, sessionData) {
			t.Errorf("Redis holds %v, want %s", rec, sessionData)
		}

		resp, k := getKoa(t, c, s.koa+"/get", "Cookie: "+cookie)
		if k.IsNew || !sameData(t, k.Session, koaData) {
			t.Fatalf("koa read %v (new %v), want %s", k.Session, k.IsNew, koaData)
		}
		if set := resp.Header["Set-Cookie"]; len(set) != 0 {
			t.Errorf("koa re-set an unchanged session: %v", set)
		}

		resp, k = getKoa(t, c, s.koa+"/set?json="+url.QueryEscape(`{"koa":1,"user":null}`), "Cookie: "+cookie)
		if got := sessionID(resp); got != id || k.Session["koa"] != float64(1) {
			t.Fatalf("koa's write: cookie key %q (want %q), session %v", got, id, k.Session)
		}
		_, e = getEcho(t, c, s.proxy+"/echo", "Cookie: "+cookie)
		if e.Session["koa"] != float64(1) || e.Session["user"] != nil || e.Session["note"] == nil || e.Claims["new"] != false {
			t.Errorf("upstream saw %v after koa's write", e.Session)
		}
	})

	t.Run("a per-session maxAge sticks on both sides", func(t *testing.T) {
		const short = 600000 // 10 minutes, the session's own
		resp, _ := getEcho(t, c, s.proxy+"/echo?maxage=600000&set="+url.QueryEscape(`{"remember":false}`))
		id, cookie := sessionID(resp), cookieLine(resp, "koa.sess")
		koaRedisRecordMaxAge(t, s.rdb, id, short)
		// koa takes _maxAge as the session's maxAge when it saves...
		resp, k := getKoa(t, c, s.koa+"/set?json="+url.QueryEscape(`{"koa":1}`), "Cookie: "+cookie)
		if k.IsNew || sessionID(resp) != id {
			t.Fatalf("koa's write: new %v, Set-Cookie %v", k.IsNew, resp.Header["Set-Cookie"])
		}
		koaRedisRecordMaxAge(t, s.rdb, id, short)
		// ...and so does the proxy after koa's write.
		getEcho(t, c, s.proxy+"/echo?set="+url.QueryEscape(`{"api":1}`), "Cookie: "+cookie)
		if rec := koaRedisRecordMaxAge(t, s.rdb, id, short); rec["koa"] != float64(1) || rec["api"] != float64(1) {
			t.Errorf("Redis holds %v, want both writes", rec)
		}
	})

	t.Run("a record with a member given twice reads as JSON.parse reads it", func(t *testing.T) {
		// Another program sharing the store wrote _maxAge twice, a bad
		// value first: JSON.parse, and so koa-session, keeps the last.
		resp, _ := getKoa(t, c, s.koa+"/set?json="+url.QueryEscape(`{"a":1}`))
		id, cookie := sessionID(resp), cookieLine(resp, "koa.sess")
		expire := time.Now().Add(time.Hour).UnixMilli()
		rec := fmt.Sprintf(`{"a":2,"_maxAge":0,"_expire":%d,"_maxAge":%d}`, expire, koaRedisMaxAge)
		if err := s.rdb.Set(t.Context(), id, rec, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if _, k := getKoa(t, c, s.koa+"/get", "Cookie: "+cookie); k.IsNew || !sameData(t, k.Session, `{"a":2}`) {
			t.Fatalf("koa read %v (new %v), want {\"a\":2}: the test's record is not what koa-session reads", k.Session, k.IsNew)
		}
		if _, e := getEcho(t, c, s.proxy+"/echo", "Cookie: "+cookie); e.Claims["new"] != false || !sameData(t, e.Session, `{"a":2}`) {
			t.Errorf("upstream saw %v (new %v), want koa-session's reading, {\"a\":2}", e.Session, e.Claims["new"])
		}
	})

	// The two sides start, end or regenerate sessions through these.
	type side struct {
		name  string
		start func(t *testing.T) (cookie string) // a session with user jo
		read  func(t *testing.T, cookie string) (data map[string]any, isNew bool)
		// end destroys or regenerates the session and returns the
		// Set-Cookie response.
		destroy, regenerate func(t *testing.T, cookie string) *http.Response
	}
	koa := side{
		name: "koa",
		start: func(t *testing.T) string {
			resp, _ := getKoa(t, c, s.koa+"/set?json="+url.QueryEscape(`{"user":"jo"}`))
			return cookieLine(resp, "koa.sess")
		},
		read: func(t *testing.T, cookie string) (map[string]any, bool) {
			_, k := getKoa(t, c, s.koa+"/get", "Cookie: "+cookie)
			return k.Session, k.IsNew
		},
		destroy: func(t *testing.T, cookie string) *http.Response {
			resp, _ := getKoa(t, c, s.koa+"/destroy", "Cookie: "+cookie)
			return resp
		},
		regenerate: func(t *testing.T, cookie string) *http.Response {
			resp, _ := getKoa(t, c, s.koa+"/regenerate", "Cookie: "+cookie)
			return resp
		},
	}
	proxy := side{
		name: "proxy",
		start: func(t *testing.T) string {
			resp, _ := getEcho(t, c, s.proxy+"/echo?set="+url.QueryEscape(`{"user":"jo"}`))
			return cookieLine(resp, "koa.sess")
		},
		read: func(t *testing.T, cookie string) (map[string]any, bool) {
			_, e := getEcho(t, c, s.proxy+"/echo", "Cookie: "+cookie)
			return e.Session, e.Claims["new"] == true
		},
		destroy: func(t *testing.T, cookie string) *http.Response {
			resp, _ := getEcho(t, c, s.proxy+"/echo?destroy=true", "Cookie: "+cookie)
			return resp
		},
		regenerate: func(t *testing.T, cookie string) *http.Response {
			resp, _ := getEcho(t, c, s.proxy+"/echo?renew=1", "Cookie: "+cookie)
			return resp
		},
	}
	pairs := []struct{ by, other side }{{koa, proxy}, {proxy, koa}}
	idOf := func(cookie string) string {
		v, _, _ := strings.Cut(strings.TrimPrefix(cookie, "koa.sess="), ";")
		return v
	}

	for _, p := range pairs {
		t.Run("destroyed by "+p.by.name, func(t *testing.T) {
			cookie := p.other.start(t)
			id := idOf(cookie)
			if data, isNew := p.by.read(t, cookie); isNew || data["user"] != "jo" {
				t.Fatalf("%s read %v (new %v) before destroying", p.by.name, data, isNew)
			}
			resp := p.by.destroy(t, cookie)
			if got := sessionID(resp); got != "" {
				t.Errorf("%s's destroy set the cookie to %q, want it cleared", p.by.name, got)
			}
			if n := s.rdb.Exists(t.Context(), id).Val(); n != 0 {
				t.Errorf("the destroyed session's key is still in Redis")
			}
			for _, r := range []side{p.other, p.by} {
				if data, isNew := r.read(t, cookie); !isNew || len(data) != 0 {
					t.Errorf("%s still finds %v (new %v) with the destroyed session's cookie", r.name, data, isNew)
				}
			}
		})
	}

	for _, p := range pairs {
		t.Run("regenerated by "+p.by.name, func(t *testing.T) {
			old := p.other.start(t)
			oldID := idOf(old)
			resp := p.by.regenerate(t, old)
			newID := sessionID(resp)
			if newID == "" || newID == oldID {
				t.Fatalf("%s's regenerate set key %q (old %q): %v", p.by.name, newID, oldID, resp.Header["Set-Cookie"])
			}
			if n := s.rdb.Exists(t.Context(), oldID).Val(); n != 0 {
				t.Errorf("regenerate left the old key in Redis")
			}
			if rec := koaRedisRecord(t, s.rdb, newID); rec["user"] != "jo" {
				t.Errorf("the new key holds %v, want the data kept", rec)
			}
			cookie := cookieLine(resp, "koa.sess")
			for _, r := range []side{p.other, p.by} {
				if data, isNew := r.read(t, old); !isNew || len(data) != 0 {
					t.Errorf("%s still finds %v (new %v) with the pre-regenerate cookie", r.name, data, isNew)
				}
				if data, isNew := r.read(t, cookie); isNew || data["user"] != "jo" {
					t.Errorf("%s reads %v (new %v) with the regenerated cookie, want user jo", r.name, data, isNew)
				}
			}
		})
	}
}

// TestKoaRedisSharedRoute: a Koa app with koa-redis on /legacy/
// (forwardCookie) and the Flask app everywhere else share one session in
// Redis through one proxy, as a browser sees them.
func TestKoaRedisSharedRoute(t *testing.T) {
	t.Parallel()
	const key = "koa-redis-key"
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	koa := startKoaEnv(t, []string{key}, nil, "KOA_REDIS="+srv.Addr)
	cfg := koaRedisConfig(startUpstream(t), srv.Addr, key).set("session.rolling", true).
		set("routes", []map[string]any{{"path": "/legacy/", "upstream": koa, "forwardCookie": true}})
	p := startProxy(t, cfg)
	c := newClient(t)

	_, k := getKoa(t, c, p.URL+"/legacy/set?json="+url.QueryEscape(`{"user":"jo"}`))
	if !k.IsNew || k.Session["user"] != "jo" {
		t.Fatalf("koa /legacy/set: %v", k)
	}
	_, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"cart":[1,2]}`))
	if e.Session["user"] != "jo" || e.Claims["new"] != false {
		t.Fatalf("the API app saw %v, want what koa set", e.Session)
	}
	firstID, _ := e.Claims["sid"].(string)

	// Koa regenerates (a login): the API app follows the new key, and the
	// old one is gone from Redis.
	_, k = getKoa(t, c, p.URL+"/legacy/regenerate")
	if k.Session["cart"] == nil {
		t.Fatalf("koa after regenerate: %v", k.Session)
	}
	_, e = getEcho(t, c, p.URL+"/echo")
	if e.Claims["sid"] == firstID || !sameData(t, e.Session, `{"user":"jo","cart":[1,2]}`) {
		t.Fatalf("after koa's regenerate the API app saw sid %v (old %s), session %v", e.Claims["sid"], firstID, e.Session)
	}
	if rdb.Exists(t.Context(), firstID).Val() != 0 {
		t.Error("the pre-regenerate key is still in Redis")
	}

	// Koa destroys (a logout): the API app sees a new, empty session and
	// Redis holds nothing.
	getKoa(t, c, p.URL+"/legacy/destroy")
	if _, e = getEcho(t, c, p.URL+"/echo"); len(e.Session) != 0 || e.Claims["new"] != true {
		t.Fatalf("after koa destroyed the session the API app saw %v (new %v)", e.Session, e.Claims["new"])
	}
	if keys := rdb.Keys(t.Context(), "*").Val(); len(keys) != 0 {
		t.Errorf("Redis still holds %d keys after the logout", len(keys))
	}
}
