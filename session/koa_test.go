package session

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A cookie written by koa-session 7.0.2 (cookies 0.9.2, keygrip 1.1.0)
// with app.keys ["new-key", "old-key"]; the signatures were computed by
// keygrip itself.
const (
	koaValue  = "eyJ1c2VyIjp7Im5hbWUiOiJqb2huIGRvZSIsImFnZSI6MzB9LCJiaWciOjEyMzQ1Njc4OTAxMjM0NTY3MDAwLCJzIjoiw7wgPD4mIiwiX2V4cGlyZSI6MTkwMDAwMDAwMDAwMCwiX21heEFnZSI6ODY0MDAwMDB9"
	koaSigNew = "-lAtNsQ00atMNz4HaTzY4q6g588"                                                  // keygrip(["new-key"]).sign("koa.sess=" + koaValue)
	koaSigOld = "bKbvHzvOl_CVny8A636KS_b62U4"                                                  // keygrip(["old-key"]).sign(...)
	koaSigNil = "ePbf4iaj3TrDfdPMmNhH55FqcWI"                                                  // keygrip(["new-key"]).sign("koa.sess=")
	koaData   = `{"user":{"name":"john doe","age":30},"big":12345678901234567000,"s":"ü <>&"}` // as koa wrote it
)

// Signatures of koaValue by new Keygrip(["new-key"], algorithm), made by
// keygrip 1.1.0 itself.
var keygripSigs = map[string]string{
	"sha256": "VjIzoyf7qKdp-9z-N2iTdafTH2aDZ1M7nYpDlrR_a6M",
	"sha384": "bVHCVPXFWvzHQXEQk2UhV6x76oZSSLgTiqBF-6SL_ERTbj3N_DT8KmhdUo2BdWSH",
	"sha512": "bdCjNl6yUozk_14sTDf3JPgH_DgbffYSJ7DFF5HMHUmBESijr15xL_RT-ugOa4in5DtnoyUwFGlwwg2fSmdh3Q",
}

// A Koa app whose app.keys is a Keygrip with another hash (Koa's README
// shows sha256) shares its sessions too: signed and checked as keygrip
// does, and a signature of another hash refused.
func TestKeygripAlgorithms(t *testing.T) {
	for alg, want := range keygripSigs {
		t.Run(alg, func(t *testing.T) {
			c, err := newKoaCodec([]string{"other-key", "new-key"}, alg, true, true)
			if err != nil {
				t.Fatal(err)
			}
			if i := c.index("koa.sess", koaValue, want); i != 1 {
				t.Errorf("keygrip's signature: index = %d, want 1", i)
			}
			if i := c.index("koa.sess", koaValue, koaSigNew); i != -1 {
				t.Errorf("the sha1 signature: index = %d, want -1", i)
			}
			c, _ = newKoaCodec([]string{"new-key"}, alg, true, true)
			if got := c.sign("koa.sess", koaValue); got != want {
				t.Errorf("sign = %q, want %q (keygrip)", got, want)
			}
			m, err := New(Options{Format: FormatKoa, Keys: []string{"new-key"}, KeygripAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Load(t.Context(), koaRequest("koa.sess="+koaValue+"; koa.sess.sig="+want))
			if err != nil || s.IsNew || string(s.Data) != koaData {
				t.Errorf("Load = %+v, %v; want koa's session", s, err)
			}
		})
	}
	if _, err := newKoaCodec([]string{"k"}, "md5", true, true); err == nil {
		t.Error("md5: no error")
	}
}

// TestKeygripSign holds the codec's signing and checking, with its pooled
// HMACs, to keygrip's own signatures.
func TestKeygripSign(t *testing.T) {
	for _, tc := range []struct{ name, key, value, want string }{
		{"value", "new-key", koaValue, koaSigNew},
		{"old key", "old-key", koaValue, koaSigOld},
		{"empty value", "new-key", "", koaSigNil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newKoaCodec([]string{tc.key}, "", true, true)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second with a pooled HMAC used before
				if got := c.sign("koa.sess", tc.value); got != tc.want {
					t.Errorf("sign = %q, want %q (keygrip)", got, tc.want)
				}
			}
			if got := sign([]byte(tc.key), "koa.sess="+tc.value); got != tc.want {
				t.Errorf("the tests' sign = %q, want %q (keygrip)", got, tc.want)
			}
			if i := c.index("koa.sess", tc.value, tc.want); i != 0 {
				t.Errorf("index = %d, want 0", i)
			}
		})
	}
}

// sign is keygrip's sign with key, written plainly, for the tests to
// build signed cookies with.
func sign(key []byte, data string) string {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func koaRequest(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

func TestKoaCodecRead(t *testing.T) {
	c, err := newKoaCodec([]string{"new-key", "old-key"}, "", true, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		cookie   string
		found    bool
		reject   string
		resign   bool
		clearSig bool
		payload  bool
	}{
		{name: "no cookie"},
		{name: "other cookies", cookie: "a=1; koa.sess.sig=" + koaSigNew},
		{name: "first key", cookie: "koa.sess=" + koaValue + "; koa.sess.sig=" + koaSigNew, found: true, payload: true},
		{name: "old key re-signs", cookie: "koa.sess=" + koaValue + "; koa.sess.sig=" + koaSigOld, found: true, payload: true, resign: true},
		{name: "among others, spaced", cookie: "x=y;  koa.sess.sig=" + koaSigNew + ";koa.sess=" + koaValue + "; z=1", found: true, payload: true},
		{name: "quoted", cookie: `koa.sess="` + koaValue + `"; koa.sess.sig=` + koaSigNew, found: true, payload: true},
		{name: "first of two wins", cookie: "koa.sess=" + koaValue + "; koa.sess=x; koa.sess.sig=" + koaSigNew, found: true, payload: true},
		{name: "missing signature", cookie: "koa.sess=" + koaValue, found: true, reject: RejectTampered},
		{name: "empty signature", cookie: "koa.sess=" + koaValue + "; koa.sess.sig=", found: true, reject: RejectTampered},
		{name: "tampered value", cookie: "koa.sess=" + koaValue[:10] + "x" + koaValue[11:] + "; koa.sess.sig=" + koaSigNew, found: true, reject: RejectTampered, clearSig: true},
		{name: "tampered signature", cookie: "koa.sess=" + koaValue + "; koa.sess.sig=" + koaSigNew[:26] + "A", found: true, reject: RejectTampered, clearSig: true},
		{name: "signed empty value", cookie: "koa.sess=; koa.sess.sig=" + koaSigNil, found: true},
		{name: "prefix name is another cookie", cookie: "xkoa.sess=" + koaValue + "; koa.sess.sig=" + koaSigNew},
	} {
		// Three times: a value that verified is remembered the second
		// time (as Manager.load does, once parsed), and the third comes
		// from the codec's cache; it must still be read the same. Its
		// record is there either way: the payload, or the cache's parse
		// (and the payload too when the cookie is to be re-signed).
		for _, pass := range []string{"", "/again", "/cached"} {
			t.Run(tc.name+pass, func(t *testing.T) {
				rr, m := c.read(koaRequest(tc.cookie), "koa.sess")
				if rr.payload != nil {
					rr.remember(parseKoaPayload(rr.payload))
				}
				_, parsed := m.parsed()
				record := rr.payload != nil || parsed
				if rr.found != tc.found || rr.reject != tc.reject || rr.resign != tc.resign || rr.clearSig != tc.clearSig || record != tc.payload || (tc.resign && rr.payload == nil) {
					t.Errorf("read = found %v reject %q resign %v clearSig %v payload %q parsed %v; want %v %q %v %v record %v",
						rr.found, rr.reject, rr.resign, rr.clearSig, rr.payload, parsed, tc.found, tc.reject, tc.resign, tc.clearSig, tc.payload)
				}
				if pass == "/cached" && tc.payload && !m.found() {
					t.Error("a value read a third time did not come from the cache")
				}
			})
		}
	}
	if c.seen.len() != 1 { // koaValue; the rest did not verify
		t.Errorf("%d values cached, want 1", c.seen.len())
	}
}

// A koa cookie the codec issued is remembered at once, with its
// signature: sent back with it, it needs no key; with another signature
// it is tampered with.
func TestKoaRemembersIssuedValues(t *testing.T) {
	m, _ := newKoaManager(t, Options{})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	if len(cookies) != 2 {
		t.Fatalf("Set-Cookie %v, want the value and its signature", cookies)
	}
	header := "koa.sess=" + cookies[0].Value + "; koa.sess.sig=" + cookies[1].Value
	if _, memo := m.codec.read(koaRequest(header), "koa.sess"); !memo.found() {
		t.Fatal("the cookie the codec issued was not remembered")
	}
	s, err := m.Load(context.Background(), koaRequest(header))
	if err != nil || s.IsNew || string(s.Data) != `{"a":1}` || s.Expire.IsZero() {
		t.Fatalf("the remembered cookie loaded %+v, %v; want {\"a\":1} with its expiry", s, err)
	}
	forged := "koa.sess=" + cookies[0].Value + "; koa.sess.sig=" + koaSigNew
	if s, err := m.Load(context.Background(), koaRequest(forged)); err != nil || s.Rejected != RejectTampered {
		t.Errorf("the issued value with another signature loaded %+v, %v; want rejected as tampered", s, err)
	}
}

// A koa cookie that verified is remembered with its signature and parsed
// record; a load still checks the signature it comes with and the
// session's expiry, and gets its own copy of the data.
func TestKoaVerifiedCache(t *testing.T) {
	m, now := newKoaManager(t, Options{})
	load := func(sig string) *Session {
		t.Helper()
		s, err := m.Load(context.Background(), koaRequest("koa.sess="+koaValue+"; koa.sess.sig="+sig))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if once := load(koaSigNew); once.IsNew || string(once.Data) != koaData {
		t.Fatalf("first load: %+v", once)
	}
	if _, ok := lookup(&m.codec.(*koaCodec).seen, koaValue); ok {
		t.Fatal("a cookie seen once was remembered")
	}
	first := load(koaSigNew)
	if first.IsNew || string(first.Data) != koaData {
		t.Fatalf("first load: %+v", first)
	}
	if v, ok := lookup(&m.codec.(*koaCodec).seen, koaValue); !ok || !v.e.parsed {
		t.Fatal("the verified cookie and its record were not remembered")
	}
	first.Data = []byte(`{"x":1}`) // a caller setting its session changes nothing cached
	for _, step := range []struct {
		name, sig string
		want      string // Rejected
		resign    bool
	}{
		{name: "again", sig: koaSigNew},
		{name: "another key's signature", sig: koaSigOld, resign: true},
		{name: "a wrong signature", sig: koaSigNew[:26] + "A", want: RejectTampered},
		{name: "again after all", sig: koaSigNew},
	} {
		s := load(step.sig)
		if s.Rejected != step.want || s.cookie.resign != step.resign ||
			(step.want == "" && (string(s.Data) != koaData || !s.Expire.Equal(first.Expire))) {
			t.Fatalf("%s: %+v (resign %v), want rejected %q, resign %v", step.name, s, s.cookie.resign, step.want, step.resign)
		}
		s.Data = nil
	}
	*now = first.Expire.Add(time.Second)
	if s := load(koaSigNew); s.Rejected != RejectExpired {
		t.Errorf("a remembered but expired cookie gave %+v", s)
	}
}

func TestDecodeBase64LikeNode(t *testing.T) {
	want := `{"a":1}`
	std := base64.StdEncoding.EncodeToString([]byte(want))
	for _, tc := range []struct{ name, in string }{
		{"standard", std},
		{"no padding", strings.TrimRight(std, "=")},
		{"url-safe", base64.URLEncoding.EncodeToString([]byte(want))},
		{"junk ignored", std[:4] + "!\n" + std[4:]},
		{"stops at =", std + "=garbage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBase64(tc.in)
			if err != nil || string(got) != want {
				t.Errorf("decodeBase64(%q) = %q, %v; want %q", tc.in, got, err, want)
			}
		})
	}
}

// The fast path of decodeBase64 (standard, padded base64) gives what
// Node's way gives, for any value: the same bytes, or an error from both.
func FuzzDecodeBase64LikeNode(f *testing.F) {
	for _, s := range []string{"", "eyJhIjoxfQ==", "eyJhIjoxfQ", "eyJhIjoxfQ==eyJh", "eyJh-_==", "QQ==", "QR==",
		"QUJD\nREVG", "QUJDREVG\r\n", "QUJD====", "=QUJD", "Q===", "QUJ\x00", "ab+/ab-_", "YWJj ZGVm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeBase64(s)
		want, wantErr := decodeBase64Node(s)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("decodeBase64(%q) = %q, %v; Node's way %q, %v", s, got, err, want, wantErr)
		}
	})
}

func newKoaManager(t *testing.T, o Options) (*Manager, *time.Time) {
	t.Helper()
	now := time.UnixMilli(1_800_000_000_000)
	o.Format, o.Now = FormatKoa, func() time.Time { return now }
	if o.Cookie.Path == "" && !o.Cookie.Secure {
		o.Cookie.HttpOnly = true // the config's default, and koa's
	}
	if o.Keys == nil {
		o.Keys = []string{"new-key", "old-key"}
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m, &now
}

// roundTrip loads the session of a request with cookie, commits ch, and
// returns the Set-Cookie lines and the session.
func koaRoundTrip(t *testing.T, m *Manager, cookie string, ch Change) ([]string, *Session) {
	t.Helper()
	r := koaRequest(cookie)
	s, err := m.Load(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, ch, h); err != nil {
		t.Fatal(err)
	}
	return h["Set-Cookie"], s
}

// cookieHeader turns Set-Cookie lines into the Cookie header a browser
// sends back (ignoring expiry).
func cookieHeader(lines []string) string {
	var parts []string
	for _, l := range lines {
		nv, _, _ := strings.Cut(l, ";")
		parts = append(parts, nv)
	}
	return strings.Join(parts, "; ")
}

func TestKoaManagerReadsKoaCookie(t *testing.T) {
	m, _ := newKoaManager(t, Options{})
	for _, sig := range []string{koaSigNew, koaSigOld} {
		r := koaRequest("koa.sess=" + koaValue + "; koa.sess.sig=" + sig)
		s, err := m.Load(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if s.IsNew || string(s.Data) != koaData || s.MaxAge != MaxAge(24*time.Hour) {
			t.Errorf("sig %s: session new=%v data %s maxAge %v; want %s", sig, s.IsNew, s.Data, s.MaxAge, koaData)
		}
	}
}

func TestKoaManagerCommit(t *testing.T) {
	koaCookie := "koa.sess=" + koaValue + "; koa.sess.sig="
	for _, tc := range []struct {
		name   string
		opts   Options
		cookie string
		ch     Change
		want   []string // expected Set-Cookie lines, in order
	}{
		{name: "new empty session sets nothing"},
		{name: "unchanged sets nothing", cookie: koaCookie + koaSigNew},
		{name: "same value sets nothing", cookie: koaCookie + koaSigNew, ch: Change{Set: [][]byte{[]byte(`{"user":{"age":30}}`)}}},
		{name: "old key re-issues the value with its new .sig", cookie: koaCookie + koaSigOld,
			want: []string{
				"koa.sess=" + koaValue + "; path=/; expires=Sun, 17 Mar 2030 17:46:40 GMT; httponly",
				"koa.sess.sig=" + koaSigNew + "; path=/; expires=Sun, 17 Mar 2030 17:46:40 GMT; httponly",
			}},
		{name: "bad sig clears .sig", cookie: koaCookie + "AAAA",
			want: []string{"koa.sess.sig=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"}},
		{name: "destroy writes koa's expired pair", cookie: koaCookie + koaSigNew, ch: Change{Destroy: true},
			want: []string{
				"koa.sess=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly",
				"koa.sess.sig=" + koaSigNil + "; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly",
			}},
		{name: "attributes in cookies 0.9 order", cookie: koaCookie + koaSigNew, ch: Change{Renew: true},
			opts: Options{Cookie: http.Cookie{Path: "/app", Domain: "example.test", SameSite: http.SameSiteLaxMode, Secure: true, HttpOnly: true}},
			want: []string{
				"koa.sess=*; path=/app; expires=Sat, 16 Jan 2027 08:00:00 GMT; domain=example.test; samesite=lax; secure; httponly",
				"koa.sess.sig=*; path=/app; expires=Sat, 16 Jan 2027 08:00:00 GMT; domain=example.test; samesite=lax; secure; httponly",
			}},
		{name: "unsigned", opts: Options{Unsigned: true}, cookie: "koa.sess=" + koaValue, ch: Change{Set: [][]byte{[]byte(`{"n":1}`)}},
			want: []string{"koa.sess=*; path=/; expires=Sat, 16 Jan 2027 08:00:00 GMT; httponly"}},
		{name: "maxAge session has no expires", ch: Change{Set: [][]byte{[]byte(`{"n":1}`)}, MaxAge: Browser},
			want: []string{"koa.sess=*; path=/; httponly", "koa.sess.sig=*; path=/; httponly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newKoaManager(t, tc.opts)
			got, _ := koaRoundTrip(t, m, tc.cookie, tc.ch)
			if len(got) != len(tc.want) {
				t.Fatalf("Set-Cookie = %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if name, attrs, ok := strings.Cut(w, "=*"); ok {
					if !strings.HasPrefix(got[i], name+"=") || !strings.HasSuffix(got[i], attrs) || got[i] == name+"="+attrs {
						t.Errorf("Set-Cookie[%d] = %q, want %s=<value>%s", i, got[i], name, attrs)
					}
					continue
				}
				if got[i] != w {
					t.Errorf("Set-Cookie[%d] = %q, want %q", i, got[i], w)
				}
			}
		})
	}
}

func TestKoaRoundTripKeepsData(t *testing.T) {
	m, _ := newKoaManager(t, Options{})
	data := `{"big":123456789012345678901234567890,"f":1.5e300,"html":"<b>&amp;</b>","list":[1,{"a":[null,true]}],"u":"日本語 ✓ 😀"}`
	set, _ := koaRoundTrip(t, m, "", Change{Set: [][]byte{[]byte(data)}})
	if len(set) != 2 {
		t.Fatalf("Set-Cookie = %q, want the pair", set)
	}
	v, _ := cookieValue(cookieHeader(set), "koa.sess")
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(data, "}") + `,"_expire":1800086400000,"_maxAge":86400000}`; string(raw) != want {
		t.Errorf("cookie JSON = %s\nwant         %s", raw, want)
	}
	again, s := koaRoundTrip(t, m, cookieHeader(set), Change{})
	if len(again) != 0 || string(s.Data) != data {
		t.Errorf("read back: data %s, Set-Cookie %q; want %s and no cookie", s.Data, again, data)
	}
}

func TestKoaOptions(t *testing.T) {
	set := Change{Set: [][]byte{[]byte(`{"n":1}`)}}
	t.Run("rolling re-issues every response", func(t *testing.T) {
		m, _ := newKoaManager(t, Options{Rolling: true})
		first, _ := koaRoundTrip(t, m, "", set)
		if got, _ := koaRoundTrip(t, m, cookieHeader(first), Change{}); len(got) != 2 {
			t.Errorf("rolling: Set-Cookie %q, want the pair", got)
		}
	})
	t.Run("renew only past half of maxAge", func(t *testing.T) {
		m, now := newKoaManager(t, Options{Renew: true, MaxAge: MaxAge(time.Hour)})
		first, _ := koaRoundTrip(t, m, "", set)
		*now = now.Add(29 * time.Minute)
		if got, _ := koaRoundTrip(t, m, cookieHeader(first), Change{}); len(got) != 0 {
			t.Errorf("renew at 29 of 60 minutes: Set-Cookie %q, want none", got)
		}
		*now = now.Add(2 * time.Minute)
		got, s := koaRoundTrip(t, m, cookieHeader(first), Change{})
		if len(got) != 2 || !s.Expire.Equal(now.Add(time.Hour)) {
			t.Errorf("renew at 31 of 60 minutes: Set-Cookie %q, expire %v; want a fresh pair", got, s.Expire)
		}
	})
	t.Run("expired is a new session", func(t *testing.T) {
		m, now := newKoaManager(t, Options{MaxAge: MaxAge(time.Hour)})
		first, _ := koaRoundTrip(t, m, "", set)
		*now = now.Add(time.Hour + time.Millisecond)
		if _, s := koaRoundTrip(t, m, cookieHeader(first), Change{}); !s.IsNew || s.Rejected != RejectExpired {
			t.Errorf("after maxAge: new=%v rejected %q, want a new session (expired)", s.IsNew, s.Rejected)
		}
	})
	t.Run("per-session maxAge sticks", func(t *testing.T) {
		m, _ := newKoaManager(t, Options{})
		first, _ := koaRoundTrip(t, m, "", Change{Set: set.Set, MaxAge: MaxAge(time.Minute)})
		_, s := koaRoundTrip(t, m, cookieHeader(first), Change{})
		if s.MaxAge != MaxAge(time.Minute) {
			t.Errorf("maxAge = %v, want 1m from the cookie's _maxAge", s.MaxAge)
		}
	})
	t.Run("overwrite replaces the upstream's .sig", func(t *testing.T) {
		for _, tc := range []struct {
			noOverwrite bool
			want        int
		}{{false, 2}, {true, 3}} {
			m, _ := newKoaManager(t, Options{NoOverwrite: tc.noOverwrite})
			r := koaRequest("")
			s, _ := m.Load(context.Background(), r)
			h := http.Header{"Set-Cookie": {"koa.sess.sig=stale; path=/"}}
			if _, err := m.Commit(context.Background(), r, s, set, h); err != nil {
				t.Fatal(err)
			}
			if got := h["Set-Cookie"]; len(got) != tc.want {
				t.Errorf("NoOverwrite %v: Set-Cookie %q, want %d lines", tc.noOverwrite, got, tc.want)
			}
		}
	})
}

func FuzzKoaRead(f *testing.F) {
	f.Add("koa.sess=" + koaValue + "; koa.sess.sig=" + koaSigNew)
	f.Add(`koa.sess="` + koaValue + `"; koa.sess.sig=` + koaSigOld)
	f.Add("koa.sess=\"; koa.sess.sig=;;")
	f.Add("koa.sess=e30; koa.sess.sig=x")
	m, err := New(Options{Format: FormatKoa, Keys: []string{"new-key", "old-key"}, Unsigned: false})
	if err != nil {
		f.Fatal(err)
	}
	unsigned, err := New(Options{Format: FormatKoa, Keys: []string{"k"}, Unsigned: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := koaRequest("")
		r.Header.Set("Cookie", header)
		for _, m := range []*Manager{m, unsigned} {
			s, err := m.Load(context.Background(), r)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !s.IsNew {
				if err := ValidPatch(s.Data); err != nil {
					t.Fatalf("loaded data %q is not an object: %v", s.Data, err)
				}
			}
			h := http.Header{}
			if _, err := m.Commit(context.Background(), r, s, Change{Set: [][]byte{[]byte(`{"x":1}`)}}, h); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			again, err := m.Load(context.Background(), koaRequest(cookieHeader(h["Set-Cookie"])))
			if err != nil || again.IsNew {
				t.Fatalf("the cookie written after %q does not load back: %+v %v", header, again, err)
			}
		}
	})
}

// mapStore is a minimal Store for tests.
type mapStore map[string][]byte

func (s mapStore) Load(_ context.Context, id string) ([]byte, bool, error) {
	b, ok := s[id]
	return b, ok, nil
}
func (s mapStore) Save(_ context.Context, id string, rec []byte, _ time.Duration) error {
	s[id] = rec
	return nil
}
func (s mapStore) Delete(_ context.Context, id string) error { delete(s, id); return nil }
func (s mapStore) Update(ctx context.Context, id string, _ []byte, fn UpdateFunc) error {
	cur, ok := s[id]
	next, _, err := fn(cur, ok)
	if err == nil {
		s[id] = next
	}
	return err
}

// With a store the koa cookie holds the id as is, signed, as koa-session's
// external-store mode writes its externalKey.
func TestKoaCookieWithStoreHoldsTheID(t *testing.T) {
	st := mapStore{}
	m, _ := newKoaManager(t, Options{Store: st})
	set, s := koaRoundTrip(t, m, "", Change{Set: [][]byte{[]byte(`{"a":1}`)}})
	want := "koa.sess=" + s.ID + ";"
	if len(set) != 2 || !strings.HasPrefix(set[0], want) || !strings.HasPrefix(set[1], "koa.sess.sig="+sign([]byte("new-key"), "koa.sess="+s.ID)+";") {
		t.Fatalf("Set-Cookie %q, want %s... and its keygrip signature", set, want)
	}
	if _, again := koaRoundTrip(t, m, cookieHeader(set), Change{}); again.ID != s.ID || string(again.Data) != `{"a":1}` {
		t.Errorf("read back id %q data %s", again.ID, again.Data)
	}
}

// A Koa app's maxAge past the proxy's longest (1000 years) is read as
// LongestMaxAge: the cookie the proxy writes back still lives, rather
// than the millisecond count overflowing a time.Duration into an expiry
// in the past.
func TestKoaMaxAgeLongerThanTheProxysLongest(t *testing.T) {
	m, err := New(Options{Format: FormatKoa, Keys: []string{"k"}, Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	const thousandYears = 31536000000000
	for _, rec := range []string{
		fmt.Sprintf(`{"user":"jo","_expire":%d,"_maxAge":%d}`, time.Now().UnixMilli()+thousandYears, int64(thousandYears)),
		fmt.Sprintf(`{"_expire":%d,"user":"jo","_maxAge":1e300}`, time.Now().UnixMilli()+thousandYears),
	} {
		s, err := m.Load(t.Context(), koaRequest("koa.sess="+base64.StdEncoding.EncodeToString([]byte(rec))))
		if err != nil || s.IsNew {
			t.Fatalf("%s: %+v, %v", rec, s, err)
		}
		h := http.Header{}
		if _, err := m.Commit(t.Context(), koaRequest(""), s, Change{Set: [][]byte{[]byte(`{"n":1}`)}}, h); err != nil {
			t.Fatal(err)
		}
		c, err := http.ParseSetCookie(h.Get("Set-Cookie"))
		if err != nil {
			t.Fatal(err)
		}
		if until := time.Until(c.Expires); until < 99*365*24*time.Hour || until > 101*365*24*time.Hour {
			t.Errorf("%s: the cookie written back expires %v, want in about 100 years", rec, c.Expires)
		}
		again, err := m.Load(t.Context(), koaRequest("koa.sess="+c.Value))
		if err != nil || again.IsNew || !strings.Contains(string(again.Data), `"user":"jo"`) {
			t.Errorf("%s: the cookie written back does not load: %+v, %v", rec, again, err)
		}
	}
}

// After a key rotation a browser's parallel requests all carry the
// cookie signed by the old key: one that saves the session sets a new
// koa.sess and its .sig, one that changes nothing re-signs. Whichever
// response the browser applies last, it must hold a value and a .sig
// that verify together (here the re-sign lands last), or the session
// reads as tampered and the user is logged out.
func TestKoaResignRacingAWrite(t *testing.T) {
	m, _ := newKoaManager(t, Options{})
	old := []*http.Cookie{{Name: "koa.sess", Value: koaValue}, {Name: "koa.sess.sig", Value: koaSigOld}}
	jar := map[string]string{}
	for _, ck := range old {
		jar[ck.Name] = ck.Value
	}
	readReq, reader := loadExisting(t, m, old)
	writeReq, writer := loadExisting(t, m, old)
	apply := func(r *http.Request, s *Session, ch Change) {
		t.Helper()
		h := http.Header{}
		if _, err := m.Commit(t.Context(), r, s, ch, h); err != nil {
			t.Fatal(err)
		}
		for _, ck := range (&http.Response{Header: h}).Cookies() {
			jar[ck.Name] = ck.Value
		}
	}
	apply(writeReq, writer, set(`{"cart":1}`))
	apply(readReq, reader, Change{})
	s, err := m.Load(t.Context(), koaRequest("koa.sess="+jar["koa.sess"]+"; koa.sess.sig="+jar["koa.sess.sig"]))
	if err != nil || s.Rejected != "" || s.IsNew {
		t.Fatalf("the browser's cookies after the re-sign landed last load %+v, %v; want the session", s, err)
	}
	if s.cookie.resign {
		t.Error("the browser's cookies are still signed by the old key")
	}
}
