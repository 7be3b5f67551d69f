package test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// The koa tests run the real koa 3 and koa-session 7 (pinned in
// koa/package.json, installed by test/run.sh) next to the proxy with the
// same keys, and check that each reads what the other wrote.

// startKoa runs koa/app.js with app.keys keys and the koa-session options
// opts, and returns its base URL.
func startKoa(t testing.TB, keys []string, opts map[string]any) string {
	t.Helper()
	return startKoaEnv(t, keys, opts)
}

// startKoaEnv is startKoa with extra environment variables for app.js
// (KOA_REDIS=host:port puts its sessions in Redis through koa-redis).
func startKoaEnv(t testing.TB, keys []string, opts map[string]any, env ...string) string {
	t.Helper()
	node := requireTool(t, "node")
	for _, pkg := range []string{"koa", "koa-session", "koa-redis"} {
		if _, err := os.Stat("koa/node_modules/" + pkg); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed in test/koa (test/run.sh runs npm ci): %v", pkg, err)
			}
			t.Skipf("%s not installed; run test/run.sh (npm ci in test/koa)", pkg)
		}
	}
	k, _ := json.Marshal(keys)
	o, _ := json.Marshal(opts)
	env = append([]string{"KOA_KEYS=" + string(k), "KOA_SESSION=" + string(o)}, env...)
	_, m := startProcess(t, listeningOn, env, node, "koa/app.js", "0")
	return "http://" + m[1]
}

// koaConfig is a proxy config in the koa format with keys, and koa's
// cookie defaults (no SameSite), in front of upstream.
func koaConfig(upstream string, keys ...string) config {
	return baseConfig(upstream).set("keys", keys).set("session.format", "koa").set("session.sameSite", "")
}

// koaReport is what koa/app.js answers.
type koaReport struct {
	IsNew   bool           `json:"isNew"`
	Session map[string]any `json:"session"`
}

// getKoa GETs a koa/app.js URL and decodes its report.
func getKoa(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, koaReport) {
	t.Helper()
	resp, body := get(t, c, url, header...)
	var r koaReport
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	return resp, r
}

// plainClient has no cookie jar: the test sends cookies by hand.
func plainClient() *http.Client { return &http.Client{Timeout: 15 * time.Second} }

// cookieLine turns a response's session Set-Cookie headers into the Cookie
// header a browser would send back.
func cookieLine(resp *http.Response, name string) string {
	var parts []string
	for _, c := range sessionCookies(resp, name) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// keygrip signs data as keygrip does: HMAC-SHA1, URL-safe base64, no padding.
func keygrip(key, data string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// koaCookie builds the Cookie header of a koa-session cookie holding the
// JSON record, signed with key.
func koaCookie(record, key string) string {
	v := base64.StdEncoding.EncodeToString([]byte(record))
	return "koa.sess=" + v + "; koa.sess.sig=" + keygrip(key, "koa.sess="+v)
}

// sessionData is the data both sides must agree on: nested objects and
// arrays, unicode, characters JSON encoders like to escape.
const sessionData = `{"user":{"name":"john doe","age":30,"roles":["admin","dev"]},"note":"日本語 ✓ 😀 <b>&amp;</b>","n":[1,2.5,-3,null,true,{"deep":{"x":[]}}],"big":9007199254740993}`

// asciiJSON escapes every non-ASCII character of a JSON text as \uXXXX,
// as an upstream must for a header value (json.dumps does by default).
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

// sameData reports whether the session a side reported holds want.
func sameData(t testing.TB, got map[string]any, want string) bool {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	return sameJSON(t, string(b), want)
}

func TestKoaWritesProxyReads(t *testing.T) {
	t.Parallel()
	upstream := startUpstream(t)
	const oldKey, newKey = "koa-old-key", "koa-new-key"
	for _, tc := range []struct {
		name               string
		koaKeys, proxyKeys []string
		resign             bool
	}{
		{"same key", []string{newKey}, []string{newKey}, false},
		{"signed by the proxy's old key", []string{oldKey}, []string{newKey, oldKey}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			koa := startKoa(t, tc.koaKeys, nil)
			p := startProxy(t, koaConfig(upstream, tc.proxyKeys...))
			c := plainClient()
			resp, k := getKoa(t, c, koa+"/set?json="+url.QueryEscape(sessionData))
			cookie := cookieLine(resp, "koa.sess")
			if !sameData(t, k.Session, sessionData) || cookie == "" {
				t.Fatalf("koa /set: %v, cookie %q", k.Session, cookie)
			}
			resp, e := getEcho(t, c, p.URL+"/echo", "Cookie: "+cookie)
			if !sameData(t, e.Session, sessionData) || e.Claims["new"] != false {
				t.Fatalf("upstream saw %v (new %v), want koa's %s", e.Session, e.Claims["new"], sessionData)
			}
			set := sessionCookies(resp, "koa.sess")
			if !tc.resign {
				if len(set) != 0 {
					t.Errorf("an unchanged session set %v", resp.Header["Set-Cookie"])
				}
				return
			}
			// The value is re-issued as it is, with its signature by the
			// new key (a pair, so that a concurrent write's cookies are
			// never left with a lone .sig), and a koa app that knows only
			// the new key accepts it.
			value := cookie[:strings.Index(cookie, ";")]
			if len(set) != 2 || set[0].Name+"="+set[0].Value != value || set[1].Name != "koa.sess.sig" || set[1].Value != keygrip(newKey, value) {
				t.Fatalf("re-sign: Set-Cookie %v, want koa.sess as it was and koa.sess.sig signed with the new key", resp.Header["Set-Cookie"])
			}
			newOnly := startKoa(t, []string{newKey}, nil)
			_, k = getKoa(t, c, newOnly+"/get", "Cookie: "+value+"; koa.sess.sig="+set[1].Value)
			if k.IsNew || !sameData(t, k.Session, sessionData) {
				t.Errorf("koa with only the new key read %v (new %v) after the re-sign", k.Session, k.IsNew)
			}
		})
	}
}

func TestProxyWritesKoaReads(t *testing.T) {
	t.Parallel()
	upstream := startUpstream(t)
	const oldKey, newKey = "koa-old-key", "koa-new-key"
	for _, tc := range []struct {
		name               string
		proxyKeys, koaKeys []string
		resign             bool
	}{
		{"same key", []string{newKey}, []string{newKey}, false},
		{"signed by koa's old key", []string{oldKey}, []string{newKey, oldKey}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, koaConfig(upstream, tc.proxyKeys...))
			koa := startKoa(t, tc.koaKeys, nil)
			c := plainClient()
			resp, _ := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(asciiJSON(sessionData)))
			cookie := cookieLine(resp, "koa.sess")
			if cookie == "" {
				t.Fatalf("the proxy set no cookie: %v", resp.Header["Set-Cookie"])
			}
			resp, k := getKoa(t, c, koa+"/get", "Cookie: "+cookie)
			// koa-session itself rounds 9007199254740993 (beyond 2^53).
			want := strings.Replace(sessionData, "9007199254740993", "9007199254740992", 1)
			if k.IsNew || !sameData(t, k.Session, want) {
				t.Fatalf("koa read %v (new %v), want %s", k.Session, k.IsNew, want)
			}
			set := sessionCookies(resp, "koa.sess")
			if tc.resign != (len(set) == 1 && set[0].Name == "koa.sess.sig") {
				t.Errorf("koa's Set-Cookie %v; re-sign expected: %v", resp.Header["Set-Cookie"], tc.resign)
			}
		})
	}
}

// A Koa app whose app.keys is new Keygrip(keys, "sha256"), as Koa's own
// README shows, shares its sessions with a proxy given the same hash in
// session.keygripAlgorithm: each reads what the other wrote.
func TestKoaKeygripSHA256(t *testing.T) {
	t.Parallel()
	const key = "koa-sha256-key"
	koa := startKoaEnv(t, []string{key}, map[string]any{"maxAge": 86400000}, "KOA_KEYGRIP=sha256")
	p := startProxy(t, koaConfig(startUpstream(t), key).set("session.keygripAlgorithm", "sha256"))
	c := plainClient()

	resp, k := getKoa(t, c, koa+"/set?json="+url.QueryEscape(`{"user":"jo"}`))
	cookie := cookieLine(resp, "koa.sess")
	if !sameData(t, k.Session, `{"user":"jo"}`) || !strings.Contains(cookie, "koa.sess.sig=") {
		t.Fatalf("koa /set: %v, cookie %q", k.Session, cookie)
	}
	if sig := cookie[strings.Index(cookie, "koa.sess.sig=")+len("koa.sess.sig="):]; len(sig) != 43 {
		t.Fatalf("koa's signature %q is not a SHA-256 one", sig)
	}
	resp, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"n":1}`), "Cookie: "+cookie)
	if !sameData(t, e.Session, `{"user":"jo"}`) || e.Claims["new"] != false {
		t.Fatalf("the proxy read %v (new %v), want koa's session", e.Session, e.Claims["new"])
	}
	_, k = getKoa(t, c, koa+"/get", "Cookie: "+cookieLine(resp, "koa.sess"))
	if k.IsNew || !sameData(t, k.Session, `{"user":"jo","n":1}`) {
		t.Errorf("koa read %v (new %v) from the proxy's cookie, want its session with n", k.Session, k.IsNew)
	}
}

// TestBigIntegerSurvivesProxy: a koa cookie can hold an integer JavaScript
// cannot (written by another koa-session user, or by the proxy); the proxy
// keeps it exact through reads and unrelated writes.
func TestBigIntegerSurvivesProxy(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	p := startProxy(t, koaConfig(startUpstream(t), key))
	c := plainClient()
	future := time.Now().Add(time.Hour).UnixMilli()
	rec := fmt.Sprintf(`{"big":123456789012345678901234567890,"_expire":%d,"_maxAge":3600000}`, future)
	resp, _ := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"other":1}`), "Cookie: "+koaCookie(rec, key))
	v := ""
	for _, ck := range sessionCookies(resp, "koa.sess") {
		if ck.Name == "koa.sess" {
			v = ck.Value
		}
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !strings.Contains(string(raw), `"big":123456789012345678901234567890,`) {
		t.Errorf("after a write the cookie holds %s (%v), want the integer unchanged", raw, err)
	}
}

// bothSee sends one Cookie header to koa-session and to the proxy and
// returns what each made of it.
func bothSee(t *testing.T, koa, proxy, cookie string) (kr koaReport, kresp *http.Response, e echo, presp *http.Response) {
	t.Helper()
	c := plainClient()
	kresp, kr = getKoa(t, c, koa+"/touch", "Cookie: "+cookie)
	presp, e = getEcho(t, c, proxy+"/echo", "Cookie: "+cookie)
	return kr, kresp, e, presp
}

// tamperSig changes the second-to-last character of a signature cookie
// ("name.sig=digest") to another one. That character carries six bits of
// the digest; the last carries only four, so a change there can decode to
// the same digest. Writing fixed characters instead would leave the
// signature as it was whenever it already ended in them.
func tamperSig(sig string) string {
	i := len(sig) - 2
	c := "A"
	if sig[i] == 'A' {
		c = "B"
	}
	return sig[:i] + c + sig[i+1:]
}

func TestKoaAndProxyRejectAlike(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	koa := startKoa(t, []string{key}, nil)
	p := startProxy(t, koaConfig(startUpstream(t), key))
	future := time.Now().Add(time.Hour).UnixMilli()
	good := koaCookie(fmt.Sprintf(`{"user":"jo","_expire":%d,"_maxAge":3600000}`, future), key)
	value, sig, _ := strings.Cut(good, "; ")
	for _, tc := range []struct {
		name, cookie string
		valid        bool
		clearsSig    bool
	}{
		{name: "valid", cookie: good, valid: true},
		{name: "tampered value", cookie: strings.Replace(value, "eyJ1", "eyJ2", 1) + "; " + sig, clearsSig: true},
		{name: "tampered signature", cookie: value + "; " + tamperSig(sig), clearsSig: true},
		{name: "no signature", cookie: value},
		{name: "signed by an unknown key", cookie: koaCookie(fmt.Sprintf(`{"user":"jo","_expire":%d}`, future), "other"), clearsSig: true},
		{name: "expired", cookie: koaCookie(fmt.Sprintf(`{"user":"jo","_expire":%d,"_maxAge":1000}`, time.Now().Add(-time.Second).UnixMilli()), key)},
		{name: "not JSON", cookie: koaCookie(`{"user":`, key)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, kresp, e, presp := bothSee(t, koa, p.URL, tc.cookie)
			if kr.IsNew == tc.valid || (e.Claims["new"] == true) == tc.valid {
				t.Errorf("koa new=%v, proxy new=%v; want both new=%v", kr.IsNew, e.Claims["new"], !tc.valid)
			}
			if tc.valid && (kr.Session["user"] != "jo" || e.Session["user"] != "jo") {
				t.Errorf("koa read %v, proxy read %v; want user jo", kr.Session, e.Session)
			}
			// Both clear a signature that matches no key, and nothing else.
			for side, resp := range map[string]*http.Response{"koa": kresp, "proxy": presp} {
				set := sessionCookies(resp, "koa.sess")
				cleared := len(set) == 1 && set[0].Name == "koa.sess.sig" && set[0].Value == ""
				if cleared != tc.clearsSig || (!tc.clearsSig && len(set) != 0) {
					t.Errorf("%s Set-Cookie %v; want the .sig cleared: %v", side, resp.Header["Set-Cookie"], tc.clearsSig)
				}
			}
		})
	}
}

// TestDestroyWritesKoasPair: destroying a session answers with exactly the
// headers koa-session sends for ctx.session = null.
func TestDestroyWritesKoasPair(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	koa := startKoa(t, []string{key}, map[string]any{"maxAge": 3600000})
	p := startProxy(t, koaConfig(startUpstream(t), key).set("session.maxAge", 3600000))
	c := plainClient()
	resp, _ := getKoa(t, c, koa+"/set?json="+url.QueryEscape(`{"user":"jo"}`))
	cookie := cookieLine(resp, "koa.sess")
	kresp, _ := getKoa(t, c, koa+"/destroy", "Cookie: "+cookie)
	presp, e := getEcho(t, c, p.URL+"/echo?destroy=true", "Cookie: "+cookie)
	if e.Session["user"] != "jo" {
		t.Fatalf("the upstream saw %v before destroying, want koa's session", e.Session)
	}
	k, pr := kresp.Header["Set-Cookie"], presp.Header["Set-Cookie"]
	if len(k) != 2 || strings.Join(k, "\n") != strings.Join(pr, "\n") {
		t.Errorf("destroy:\nkoa   %q\nproxy %q", k, pr)
	}
	// The expired pair is a cookie koa no longer reads as a session.
	if _, r := getKoa(t, c, koa+"/get", "Cookie: "+cookieLine(presp, "koa.sess")); !r.IsNew {
		t.Errorf("koa still reads a session after the proxy destroyed it: %v", r.Session)
	}
}

// TestMaxAgeSession: maxAge "session" gives a cookie without expiry and
// "_session": true, whichever side writes it, and it sticks.
func TestMaxAgeSession(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	koa := startKoa(t, []string{key}, nil)
	p := startProxy(t, koaConfig(startUpstream(t), key))
	c := plainClient()
	noExpiry := func(side string, resp *http.Response) {
		t.Helper()
		set := sessionCookies(resp, "koa.sess")
		if len(set) != 2 {
			t.Fatalf("%s set %v, want the pair", side, resp.Header["Set-Cookie"])
		}
		for _, ck := range set {
			if !ck.Expires.IsZero() || ck.MaxAge != 0 {
				t.Errorf("%s: %s has an expiry: %s", side, ck.Name, ck.Raw)
			}
		}
	}
	// Proxy writes: X-Session-Max-Age: session.
	presp, _ := getEcho(t, c, p.URL+"/echo?maxage=session&set="+url.QueryEscape(`{"a":1}`))
	noExpiry("proxy", presp)
	// koa reads it as a "session" session and keeps it one when it saves.
	kresp, k := getKoa(t, c, koa+"/set?json="+url.QueryEscape(`{"b":2}`), "Cookie: "+cookieLine(presp, "koa.sess"))
	if k.IsNew || k.Session["a"] != float64(1) {
		t.Fatalf("koa read %v (new %v)", k.Session, k.IsNew)
	}
	noExpiry("koa", kresp)
	// And the proxy keeps koa's "session" maxAge on its next write.
	presp, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"c":3}`), "Cookie: "+cookieLine(kresp, "koa.sess"))
	if e.Session["b"] != float64(2) {
		t.Fatalf("proxy read %v", e.Session)
	}
	noExpiry("proxy after koa", presp)
}

func TestRollingAndRenew(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	upstream := startUpstream(t)
	koa := startKoa(t, []string{key}, nil)
	c := plainClient()

	t.Run("rolling re-issues an unchanged session koa wrote", func(t *testing.T) {
		p := startProxy(t, koaConfig(upstream, key).set("session.rolling", true))
		resp, _ := getKoa(t, c, koa+"/set?json="+url.QueryEscape(`{"a":1}`))
		presp, _ := getEcho(t, c, p.URL+"/echo", "Cookie: "+cookieLine(resp, "koa.sess"))
		if len(sessionCookies(presp, "koa.sess")) != 2 {
			t.Fatalf("rolling: Set-Cookie %v, want the pair", presp.Header["Set-Cookie"])
		}
		if _, k := getKoa(t, c, koa+"/get", "Cookie: "+cookieLine(presp, "koa.sess")); k.IsNew || k.Session["a"] != float64(1) {
			t.Errorf("koa read %v (new %v) from the rolled cookie", k.Session, k.IsNew)
		}
	})

	t.Run("renew near expiry, as koa does", func(t *testing.T) {
		p := startProxy(t, koaConfig(upstream, key).set("session.renew", true))
		renewer := startKoa(t, []string{key}, map[string]any{"renew": true})
		now := time.Now()
		for _, tc := range []struct {
			name  string
			left  time.Duration
			renew bool
		}{
			{"10 of 60 minutes left", 10 * time.Minute, true},
			{"50 of 60 minutes left", 50 * time.Minute, false},
		} {
			cookie := koaCookie(fmt.Sprintf(`{"a":1,"_expire":%d,"_maxAge":3600000}`, now.Add(tc.left).UnixMilli()), key)
			kresp, _ := getKoa(t, c, renewer+"/touch", "Cookie: "+cookie)
			presp, _ := getEcho(t, c, p.URL+"/echo", "Cookie: "+cookie)
			for side, resp := range map[string]*http.Response{"koa": kresp, "proxy": presp} {
				set := sessionCookies(resp, "koa.sess")
				if renewed := len(set) == 2; renewed != tc.renew {
					t.Errorf("%s, %s: Set-Cookie %v, want renewed: %v", tc.name, side, resp.Header["Set-Cookie"], tc.renew)
					continue
				}
				if tc.renew && set[0].Expires.Before(now.Add(59*time.Minute)) {
					t.Errorf("%s, %s: renewed cookie expires %v, want a fresh hour", tc.name, side, set[0].Expires)
				}
			}
			if tc.renew {
				if _, k := getKoa(t, c, koa+"/get", "Cookie: "+cookieLine(presp, "koa.sess")); k.IsNew || k.Session["a"] != float64(1) {
					t.Errorf("koa read %v (new %v) from the renewed cookie", k.Session, k.IsNew)
				}
			}
		}
	})
}

// TestSharedSession: a Koa app on /legacy/ (forwardCookie) and the Flask
// app everywhere else share one session through the proxy, and either side
// can change it.
func TestSharedSession(t *testing.T) {
	t.Parallel()
	const key = "koa-key"
	koa := startKoa(t, []string{key}, nil)
	// rolling makes the proxy want to write on every response: it must
	// still never write a stale session over the one the Koa app set.
	cfg := koaConfig(startUpstream(t), key).set("session.rolling", true).
		set("routes", []map[string]any{{"path": "/legacy/", "upstream": koa, "forwardCookie": true}})
	p := startProxy(t, cfg)
	c := newClient(t) // a browser: one cookie jar for both apps

	one := func(resp *http.Response) {
		t.Helper()
		n := 0
		for _, ck := range resp.Cookies() {
			if ck.Name == "koa.sess" {
				n++
			}
		}
		if n > 1 {
			t.Errorf("%s: %d koa.sess cookies in one response: %v", resp.Request.URL.Path, n, resp.Header["Set-Cookie"])
		}
	}

	resp, k := getKoa(t, c, p.URL+"/legacy/set?json="+url.QueryEscape(`{"user":"jo","from":"koa"}`))
	one(resp)
	if !k.IsNew || k.Session["user"] != "jo" {
		t.Fatalf("koa /legacy/set: %v", k)
	}
	resp, e := getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"cart":[1,2],"from":"api"}`))
	one(resp)
	if e.Session["user"] != "jo" || e.Session["from"] != "koa" {
		t.Fatalf("the API app saw %v, want what koa set", e.Session)
	}
	resp, k = getKoa(t, c, p.URL+"/legacy/set?json="+url.QueryEscape(`{"from":"koa again","visits":1}`))
	one(resp)
	if k.IsNew || k.Session["cart"] == nil || k.Session["user"] != "jo" {
		t.Fatalf("koa has %v after its write, want the API's cart kept", k.Session)
	}
	_, e = getEcho(t, c, p.URL+"/echo")
	want := `{"user":"jo","from":"koa again","visits":1,"cart":[1,2]}`
	if !sameData(t, e.Session, want) {
		t.Fatalf("the API app saw %v, want %s", e.Session, want)
	}
	// Koa only reads: the proxy's rolling re-issue carries the same data.
	resp, k = getKoa(t, c, p.URL+"/legacy/get")
	if !sameData(t, k.Session, want) || len(sessionCookies(resp, "koa.sess")) != 2 {
		t.Fatalf("koa /legacy/get: %v, Set-Cookie %v", k.Session, resp.Header["Set-Cookie"])
	}
	// Koa destroys: the API app sees an empty, new session.
	resp, _ = getKoa(t, c, p.URL+"/legacy/destroy")
	one(resp)
	if _, e = getEcho(t, c, p.URL+"/echo"); len(e.Session) != 0 || e.Claims["new"] != true {
		t.Fatalf("after koa destroyed the session the API app saw %v (new %v)", e.Session, e.Claims["new"])
	}
	// The API app logs in again; koa sees it.
	getEcho(t, c, p.URL+"/echo?set="+url.QueryEscape(`{"user":"kim"}`))
	if _, k = getKoa(t, c, p.URL+"/legacy/get"); k.IsNew || k.Session["user"] != "kim" {
		t.Fatalf("koa saw %v after the API's login", k.Session)
	}
}
