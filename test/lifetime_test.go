package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// The session-lifetime tests (SPEC §9): idle and absolute timeouts in
// every format and store, "log out other devices", the admin /sessions
// API, no resurrection of an ended session under concurrent load on two
// replicas, and a memory store that a flood of new sessions does not
// empty of its active users.

const adminToken = "test-admin-token-0123456789"

// lifetimeStores are the formats and stores the timeouts must work in.
func lifetimeStores(t *testing.T, up string) []struct {
	name string
	cfg  func() config
} {
	return []struct {
		name string
		cfg  func() config
	}{
		{"secure cookie", func() config { return baseConfig(up) }},
		{"koa cookie", func() config { return koaConfig(up, testKey) }},
		{"secure memory", func() config { return baseConfig(up).set("store.type", "memory") }},
		{"koa redis", func() config { return koaRedisConfig(up, redistest.Start(t).Addr, testKey) }},
		{"secure redis", func() config { return redisConfig(up, redistest.Start(t).Addr) }},
	}
}

// A session idle past its timeout is gone; one in use lives on, until its
// absolute limit, which no use extends.
func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	for _, st := range lifetimeStores(t, up) {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, st.cfg().set("session.idleTimeout", "2s").set("session.absoluteTimeout", "5s"))

			idle := newClient(t)
			getEcho(t, idle, p.URL+"/echo?set="+url.QueryEscape(`{"user":"idle"}`))
			active := newClient(t)
			start := time.Now()
			getEcho(t, active, p.URL+"/echo?set="+url.QueryEscape(`{"user":"active"}`))

			// The active client comes back every 500 ms: past the idle
			// timeout, it is still logged in.
			for time.Since(start) < 3500*time.Millisecond {
				time.Sleep(500 * time.Millisecond)
				if _, e := getEcho(t, active, p.URL+"/echo"); e.Session["user"] != "active" {
					t.Fatalf("%v after login, used every 500 ms with a 2 s idle timeout: session %v", time.Since(start), e.Session)
				}
			}
			// The idle one, unused for 3.5 s, is gone.
			if _, e := getEcho(t, idle, p.URL+"/echo"); len(e.Session) != 0 || e.Claims["new"] != true {
				t.Errorf("a session unused for longer than its idle timeout: %v (new %v), want a fresh one", e.Session, e.Claims["new"])
			}
			// The active one reaches its absolute limit, however used.
			for time.Since(start) < 5*time.Second+500*time.Millisecond {
				time.Sleep(500 * time.Millisecond)
				getEcho(t, active, p.URL+"/echo?set="+url.QueryEscape(`{"busy":true}`))
			}
			if _, e := getEcho(t, active, p.URL+"/echo"); e.Session["user"] != nil {
				t.Errorf("%v after login, past the 5 s absolute timeout: session %v, want it gone", time.Since(start), e.Session)
			}
			m := scrape(t, p)
			if m[`sessionproxy_cookies_rejected_total{reason="idle"}`] < 1 || m[`sessionproxy_cookies_rejected_total{reason="absolute"}`] < 1 {
				t.Errorf("rejected idle %v, absolute %v; want each counted", m[`sessionproxy_cookies_rejected_total{reason="idle"}`], m[`sessionproxy_cookies_rejected_total{reason="absolute"}`])
			}
		})
	}
}

// userConfig is a Redis-backed proxy config indexing sessions by user.id,
// with the admin API behind adminToken.
func userConfig(cfg config) config {
	return cfg.set("session.userKey", "user.id").set("admin.token", adminToken).set("session.idleTimeout", "1h")
}

// loginAs starts a session for user id through p in a new browser.
func loginAs(t *testing.T, p *proxy, id string) *http.Client {
	t.Helper()
	c := newClient(t)
	getEcho(t, c, p.URL+"/echo?renew=1&set="+url.QueryEscape(`{"user":{"id":`+id+`}}`))
	return c
}

// loggedIn reports whether browser c's session still has a user.
func loggedIn(t *testing.T, p *proxy, c *http.Client) bool {
	t.Helper()
	_, e := getEcho(t, c, p.URL+"/echo")
	return e.Session["user"] != nil
}

// "Log out other devices" from one browser ends exactly the others of
// that user; "log out everywhere" ends that one too.
func TestLogOutOtherDevices(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	for _, tc := range []struct {
		name string
		cfg  func() config
	}{
		{"memory", func() config { return baseConfig(up).set("store.type", "memory") }},
		{"redis secure", func() config { return redisConfig(up, redistest.Start(t).Addr) }},
		{"redis koa", func() config { return koaRedisConfig(up, redistest.Start(t).Addr, testKey) }},
		{"redis cluster", func() config { return redisConfig(up, redistest.StartCluster(t).Addrs()...) }},
		{"redis sentinel", func() config {
			return redisConfig(up, redistest.StartSentinel(t).Addr).set("store.redis.masterName", redistest.MasterName)
		}},
		{"redis, an ACL user with the commands docs/redis.md lists", func() config {
			srv := redistest.Start(t)
			client := srv.Client(t)
			// Keep in step with docs/redis.md and the README.
			acl := []any{"ACL", "SETUSER", "sessionproxy", "on", ">acl-password", "~koa:sess:*",
				"+get", "+set", "+del", "+evalsha", "+eval", "+ping", "+client|setname",
				"+zrem", "+zrangebyscore", "+zadd", "+zscore", "+zremrangebyscore", "+pttl", "+pexpire"}
			if err := client.Do(t.Context(), acl...).Err(); err != nil {
				t.Fatal(err)
			}
			return redisConfig(up, srv.Addr).set("store.redis.username", "sessionproxy").set("store.redis.password", "acl-password")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, userConfig(tc.cfg()))
			phone, laptop, tablet := loginAs(t, p, `7`), loginAs(t, p, `"7"`), loginAs(t, p, `7`)
			other, anon := loginAs(t, p, `8`), newClient(t)
			getEcho(t, anon, p.URL+"/echo?set="+url.QueryEscape(`{"cart":[1]}`))

			getEcho(t, phone, p.URL+"/echo?destroy=others")
			for name, c := range map[string]*http.Client{"laptop": laptop, "tablet": tablet} {
				if loggedIn(t, p, c) {
					t.Errorf("%s is still logged in after the phone logged out other devices", name)
				}
			}
			if !loggedIn(t, p, phone) || !loggedIn(t, p, other) {
				t.Error("the phone itself, or another user, was logged out by \"others\"")
			}
			if _, e := getEcho(t, anon, p.URL+"/echo"); e.Session["cart"] == nil {
				t.Error("an anonymous session was ended")
			}

			laptop = loginAs(t, p, `7`)
			resp, _ := getEcho(t, laptop, p.URL+"/echo?destroy=all")
			if len(sessionCookies(resp, "koa.sess")) == 0 {
				t.Errorf("\"all\" did not expire the laptop's cookie: %v", resp.Header["Set-Cookie"])
			}
			if loggedIn(t, p, phone) || loggedIn(t, p, laptop) {
				t.Error("a device of user 7 is still logged in after \"log out everywhere\"")
			}
			if !loggedIn(t, p, other) {
				t.Error("user 8 was logged out by user 7's \"log out everywhere\"")
			}
		})
	}
}

// adminDo sends an admin API request and decodes its JSON answer.
func adminDo(t *testing.T, p *proxy, method, path, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, p.Admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// The admin API lists a user's sessions and revokes one or all of them;
// bad input gets a JSON error.
func TestAdminSessionsAPI(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	p := startProxy(t, userConfig(redisConfig(up, redistest.Start(t).Addr)))
	ann1, ann2, bob := loginAs(t, p, `"ann@example.com"`), loginAs(t, p, `"ann@example.com"`), loginAs(t, p, `"bob"`)

	_, e := getEcho(t, ann1, p.URL+"/echo")
	sid, _ := e.Claims["sid"].(string)
	status, body := adminDo(t, p, "GET", "/sessions?user="+url.QueryEscape("ann@example.com"), adminToken)
	list, _ := body["sessions"].([]any)
	if status != 200 || len(list) != 2 {
		t.Fatalf("GET /sessions?user=ann: %d %v, want her 2 sessions", status, body)
	}
	raw, _ := json.Marshal(body)
	if sid == "" || strings.Contains(string(raw), sid) {
		t.Errorf("the listing %s shows a session id", raw)
	}
	for _, s := range list {
		m := s.(map[string]any)
		for _, k := range []string{"handle", "created", "lastUsed", "expires"} {
			if v, _ := m[k].(string); v == "" {
				t.Errorf("a listed session has no %s: %v", k, m)
			}
		}
	}

	for _, bad := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/sessions?user=ann", "", 401},
		{"GET", "/sessions?user=ann", "wrong-token-0123456789", 401},
		{"GET", "/sessions", adminToken, 400},
		{"DELETE", "/sessions", adminToken, 400},
		{"DELETE", "/sessions/not-a-handle", adminToken, 400},
		{"DELETE", "/sessions/" + strings.Repeat("A", 64), adminToken, 404},
		{"DELETE", "/sessions/", adminToken, 404},    // no handle: no route, but the API's JSON 404
		{"DELETE", "/sessions/a/b", adminToken, 404}, // more than a handle
	} {
		if status, body := adminDo(t, p, bad.method, bad.path, bad.token); status != bad.status || body["error"] == nil {
			t.Errorf("%s %s: %d %v, want %d with a JSON error", bad.method, bad.path, status, body, bad.status)
		}
	}

	handle := list[0].(map[string]any)["handle"].(string)
	if status, body := adminDo(t, p, "DELETE", "/sessions/"+handle, adminToken); status != 200 || body["ended"] != 1.0 {
		t.Fatalf("DELETE /sessions/HANDLE: %d %v", status, body)
	}
	if a, b := loggedIn(t, p, ann1), loggedIn(t, p, ann2); a == b {
		t.Errorf("after revoking one handle: ann's browsers logged in %v and %v, want exactly one", a, b)
	}
	if status, body := adminDo(t, p, "DELETE", "/sessions?user="+url.QueryEscape("ann@example.com"), adminToken); status != 200 || body["ended"] != 1.0 {
		t.Errorf("DELETE /sessions?user=ann: %d %v, want 1 ended", status, body)
	}
	if loggedIn(t, p, ann1) || loggedIn(t, p, ann2) || !loggedIn(t, p, bob) {
		t.Error("after DELETE /sessions?user=ann: ann must be logged out everywhere, bob not")
	}
	// The API is on the admin listener only.
	if resp, _ := get(t, newClient(t), p.URL+"/sessions?user=bob"); resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "application/json" {
		t.Error("the public listener serves the admin API")
	}
}

// A revoked session never comes back: two replicas share Redis, the
// user's browsers keep writing, reading and renewing through both, and
// after each revocation no request that started after it sees the user.
func TestRevokedSessionNeverReturns(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	srv := redistest.Start(t)
	cfg := func() config { return userConfig(redisConfig(up, srv.Addr)).set("session.idleTimeout", "10s") }
	replicas := []*proxy{startProxy(t, cfg()), startProxy(t, cfg())}

	const browsers, rounds = 4, 3
	var requests, late atomic.Int64
	for round := range rounds {
		clients := make([]*http.Client, browsers)
		for i := range clients {
			clients[i] = loginAs(t, replicas[i%2], `"mallory"`)
		}
		stop := make(chan struct{})
		var revoking, revoked atomic.Int64 // UnixNano when the revocation was sent, and answered; 0 before
		var seenMu sync.Mutex
		seen := map[string]bool{} // the sids of the user's sessions that requests saw before the revocation
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					q := "/echo?set=" + url.QueryEscape(fmt.Sprintf(`{"n%d":%d}`, i, n))
					switch n % 4 {
					case 1:
						q = "/echo?renew=1"
					case 3:
						q = "/echo"
					}
					started := time.Now().UnixNano()
					resp, err := c.Get(replicas[n%2].URL + q)
					if err != nil {
						t.Errorf("browser %d: %v", i, err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					requests.Add(1)
					var e echo
					if resp.StatusCode != 200 || json.Unmarshal(b, &e) != nil {
						t.Errorf("browser %d: %d %q", i, resp.StatusCode, b)
						return
					}
					sid, _ := e.Claims["sid"].(string)
					seenMu.Lock()
					// Only a session with the user is one the revocation
					// ends: a request sent before it but served after it
					// may already have started a new, empty session,
					// whose id is fine to see again.
					if r := revoking.Load(); (r == 0 || started < r) && e.Session["user"] != nil {
						seen[sid] = true
					}
					old := seen[sid]
					seenMu.Unlock()
					// A session started after the revocation (an empty
					// one, as a late write may start) is fine; the user,
					// or a session id from before, is not.
					if r := revoked.Load(); r != 0 && started > r && (e.Session["user"] != nil || (old && e.Claims["new"] == false)) {
						late.Add(1)
						t.Errorf("round %d, browser %d: a request started after the revocation saw the revoked session %v", round, i, e.Session)
					}
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		revoking.Store(time.Now().UnixNano())
		status, body := adminDo(t, replicas[round%2], "DELETE", "/sessions?user=mallory", adminToken)
		revoked.Store(time.Now().UnixNano())
		if status != 200 {
			t.Fatalf("DELETE /sessions?user=mallory: %d %v", status, body)
		}
		time.Sleep(700 * time.Millisecond) // traffic goes on after the revocation
		close(stop)
		wg.Wait()
		for i, c := range clients {
			for _, p := range replicas {
				if loggedIn(t, p, c) {
					t.Errorf("round %d: browser %d is logged in again after the revocation", round, i)
				}
			}
		}
		if _, body := adminDo(t, replicas[0], "GET", "/sessions?user=mallory", adminToken); len(body["sessions"].([]any)) != 0 {
			t.Errorf("round %d: sessions listed after the revocation: %v", round, body)
		}
	}
	t.Logf("%d requests over %d rounds, %d saw a revoked session", requests.Load(), rounds, late.Load())
}

// A flood of new sessions from one client does not evict a user who
// keeps using the proxy.
func TestMemoryStoreFloodKeepsActiveUser(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)).set("store.type", "memory").set("store.memory.maxEntries", 50))
	user := newClient(t)
	getEcho(t, user, p.URL+"/echo?set="+url.QueryEscape(`{"user":"active"}`))

	flood := plainClient() // no cookie jar: every request makes a new session
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				resp, err := flood.Get(p.URL + "/echo?set=" + url.QueryEscape(fmt.Sprintf(`{"flood":%d}`, i)))
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := range 1000 {
		if i%100 == 0 {
			if _, e := getEcho(t, user, p.URL+"/echo"); e.Session["user"] != "active" {
				t.Fatalf("the active user was logged out after %d new sessions in a 50-session store", i)
			}
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if _, e := getEcho(t, user, p.URL+"/echo"); e.Session["user"] != "active" {
		t.Error("the active user was logged out by the flood")
	}
	m := scrape(t, p)
	held, created, evicted := m["sessionproxy_store_sessions"], m["sessionproxy_sessions_created_total"], m["sessionproxy_store_evictions_total"]
	if held > 50 {
		t.Errorf("the store holds %v sessions, over its bound of 50", held)
	}
	// None expired or was destroyed: every session made and not held was
	// evicted, and the operator can see it.
	if created-evicted != held {
		t.Errorf("%v sessions created, %v evicted, %v held: sessionproxy_store_evictions_total does not count the flood's evictions", created, evicted, held)
	}
}

// A top-level "_" key in X-Session-Set is a malformed directive in every
// format and store; a session grown past session.maxBytes is refused;
// in both cases the session stays as it was.
func TestReservedKeysAndMaxBytes(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	for _, st := range lifetimeStores(t, up) {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, st.cfg().set("session.maxBytes", 512))
			c := newClient(t)
			getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`))
			for _, tc := range []struct{ set, body string }{
				{`{"m":2,"_flashes":["hi"]}`, "malformed session directive"},
				{`{"blob":"` + strings.Repeat("a", 600) + `"}`, "session.maxBytes"},
			} {
				resp, body := get(t, c, p.URL+"/echo?set="+url.QueryEscape(tc.set))
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, tc.body) {
					t.Errorf("set %.40s: %d %q, want 502 saying %q", tc.set, resp.StatusCode, body, tc.body)
				}
				if _, e := getEcho(t, c, p.URL+"/echo"); !sameData(t, e.Session, `{"n":1}`) {
					t.Errorf("after the refused set %.40s the session is %v, want it intact", tc.set, e.Session)
				}
			}
			// Nested "_" keys are data.
			getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"o":{"_x":1}}`))
			if _, e := getEcho(t, c, p.URL+"/echo"); e.Session["o"] == nil {
				t.Errorf("a nested _ key was refused: %v", e.Session)
			}
		})
	}
}

// With timeouts and a user index in the koa format on Redis, a Koa app
// with koa-session and koa-redis still shares the sessions: it reads the
// proxy's (the "_" stamps stay out of its session), its writes are read
// back, and the index keys disturb nothing.
func TestKoaRedisWithLifetime(t *testing.T) {
	t.Parallel()
	const key = "koa-redis-key"
	srv := redistest.Start(t)
	koa := startKoaEnv(t, []string{key}, map[string]any{"maxAge": koaRedisMaxAge}, "KOA_REDIS="+srv.Addr)
	p := startProxy(t, userConfig(koaRedisConfig(startUpstream(t), srv.Addr, key)).
		set("session.maxAge", koaRedisMaxAge).set("session.absoluteTimeout", "12h"))
	c := plainClient()

	resp, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"user":{"id":"jo"},"cart":[1]}`))
	cookie := cookieLine(resp, "koa.sess")
	raw, err := srv.Client(t).Get(t.Context(), sessionID(resp)).Result()
	if err != nil || !strings.Contains(raw, `"_created":`) || !strings.Contains(raw, `"_used":`) {
		t.Fatalf("the record %q (%v) has no stamps", raw, err)
	}
	if e.Session["_created"] != nil {
		t.Errorf("the upstream saw the proxy's stamps: %v", e.Session)
	}
	_, k := getKoa(t, c, koa+"/get", "Cookie: "+cookie)
	if k.IsNew || !sameData(t, k.Session, `{"user":{"id":"jo"},"cart":[1]}`) {
		t.Fatalf("koa read %v (new %v), want the proxy's session without its stamps", k.Session, k.IsNew)
	}
	_, k = getKoa(t, c, koa+"/set?json="+url.QueryEscape(`{"koa":1}`), "Cookie: "+cookie)
	if k.IsNew {
		t.Fatal("koa's write started a new session")
	}
	if _, e = getEcho(t, c, p.URL+"/echo", "Cookie: "+cookie); e.Session["koa"] != 1.0 || e.Claims["new"] != false {
		t.Errorf("after koa's write the upstream saw %v (new %v)", e.Session, e.Claims["new"])
	}
	if status, body := adminDo(t, p, "GET", "/sessions?user=jo", adminToken); status != 200 || len(body["sessions"].([]any)) != 1 {
		t.Errorf("GET /sessions?user=jo after koa's write: %d %v, want the session listed", status, body)
	}
	// Revoked through the proxy: koa finds it gone too.
	adminDo(t, p, "DELETE", "/sessions?user=jo", adminToken)
	if _, k = getKoa(t, c, koa+"/get", "Cookie: "+cookie); !k.IsNew {
		t.Errorf("koa still reads the revoked session: %v", k.Session)
	}
}
