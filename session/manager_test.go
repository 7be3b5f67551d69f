package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	key1 = "key-one-0123456789abcdef0123456789abcdef"
	key2 = "key-two-0123456789abcdef0123456789abcdef"
)

// clock is a settable time source for Options.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newManager(t *testing.T, o Options) *Manager {
	t.Helper()
	if o.Keys == nil {
		o.Keys = []string{key1}
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// roundTrip loads the session of a request carrying cookies, commits ch,
// and returns the loaded session and the response's Set-Cookie headers.
func roundTrip(t *testing.T, m *Manager, cookies []*http.Cookie, ch Change) (*Session, []*http.Cookie) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	s, err := m.Load(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	loaded := *s
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, ch, h); err != nil {
		t.Fatal(err)
	}
	return &loaded, (&http.Response{Header: h}).Cookies()
}

func set(patch string) Change { return Change{Set: [][]byte{[]byte(patch)}} }

func TestSecureRoundTrip(t *testing.T) {
	m := newManager(t, Options{})
	first, cookies := roundTrip(t, m, nil, set(`{"user":{"name":"john doe","age":30}}`))
	if !first.IsNew || first.ID == "" || len(cookies) != 1 {
		t.Fatalf("first request: session %+v, cookies %v", first, cookies)
	}
	if strings.Contains(cookies[0].Value, "john") {
		t.Errorf("the secure cookie shows its data: %s", cookies[0].Value)
	}
	s, again := roundTrip(t, m, cookies, Change{})
	if s.IsNew || s.Rejected != "" || s.ID != first.ID {
		t.Errorf("second request: session %+v, want the first one (id %s)", s, first.ID)
	}
	if string(s.Data) != `{"user":{"age":30,"name":"john doe"}}` {
		t.Errorf("data = %s", s.Data)
	}
	if len(again) != 0 {
		t.Errorf("an unchanged session set %v", again)
	}
}

func TestLoadRejects(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := newManager(t, Options{Now: clk.now, MaxAge: MaxAge(time.Hour)})
	_, good := roundTrip(t, m, nil, set(`{"a":1}`))

	encode := func(payload string) []*http.Cookie {
		c, _ := newSecureCodec([]string{key1}, http.Cookie{Name: "koa.sess"})
		v, err := c.keys[0].seal("koa.sess", []byte(payload), time.Now().Unix())
		if err != nil {
			t.Fatal(err)
		}
		return []*http.Cookie{{Name: "koa.sess", Value: v}}
	}
	flipped := []byte(good[0].Value)
	flipped[10] ^= 1
	other := newManager(t, Options{Keys: []string{key2}})
	_, foreign := roundTrip(t, other, nil, set(`{"a":1}`))

	tests := []struct {
		name    string
		cookies []*http.Cookie
		advance time.Duration
		want    string
	}{
		{"no cookie", nil, 0, ""},
		{"flipped byte", []*http.Cookie{{Name: "koa.sess", Value: string(flipped)}}, 0, RejectTampered},
		{"garbage", []*http.Cookie{{Name: "koa.sess", Value: "garbage"}}, 0, RejectTampered},
		{"another key", foreign, 0, RejectTampered},
		{"no id", encode(`{"a":1}`), 0, RejectMalformed},
		{"not JSON", encode(`id.{"a":`), 0, RejectMalformed},
		{"bad _expire", encode(`id.{"_expire":"soon"}`), 0, RejectMalformed},
		{"expired", good, time.Hour + time.Millisecond, RejectExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = time.Unix(1_700_000_000, 0).Add(tc.advance)
			s, _ := roundTrip(t, m, tc.cookies, Change{})
			if s.Rejected != tc.want || !s.IsNew || string(s.Data) != "{}" {
				t.Errorf("session %+v, want a new empty one rejected as %q", s, tc.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	old := newManager(t, Options{Keys: []string{key1}})
	_, cookies := roundTrip(t, old, nil, set(`{"a":1}`))

	rotated := newManager(t, Options{Keys: []string{key2, key1}})
	s, reissued := roundTrip(t, rotated, cookies, Change{})
	if s.IsNew || string(s.Data) != `{"a":1}` {
		t.Fatalf("the rotated manager did not read the old cookie: %+v", s)
	}
	// Reading it re-issues it under the new key, unchanged, so that the
	// old key can be retired without logging this client out.
	if len(reissued) != 1 {
		t.Fatalf("an old-key cookie was not re-issued: %v", reissued)
	}
	retired := newManager(t, Options{Keys: []string{key2}})
	if s, _ := roundTrip(t, retired, reissued, Change{}); s.IsNew || string(s.Data) != `{"a":1}` || !s.Expire.Equal(firstExpire(t, old, cookies)) {
		t.Errorf("the re-issued cookie does not hold the same session under the new key: %+v", s)
	}
	if _, again := roundTrip(t, rotated, reissued, Change{}); len(again) != 0 {
		t.Errorf("a cookie under the first key was re-issued again: %v", again)
	}
	// A client that keeps sending the old cookie gets it re-issued each
	// time, also once the verified cache remembers it (the second time).
	for i := range 3 {
		s, again := roundTrip(t, rotated, cookies, Change{})
		if s.IsNew || len(again) != 1 {
			t.Fatalf("read %d of the old cookie: %+v, re-issued %v", i+2, s, again)
		}
		if s, _ := roundTrip(t, retired, again, Change{}); s.IsNew || string(s.Data) != `{"a":1}` {
			t.Fatalf("read %d: the re-issued cookie does not hold the session under the new key: %+v", i+2, s)
		}
	}
	_, rewritten := roundTrip(t, rotated, cookies, set(`{"b":2}`))
	if s, _ := roundTrip(t, newManager(t, Options{Keys: []string{key2}}), rewritten, Change{}); s.IsNew {
		t.Errorf("a cookie written after rotation is not under the new key: %+v", s)
	}
	if s, _ := roundTrip(t, old, rewritten, Change{}); !s.IsNew {
		t.Errorf("a manager without the new key read a cookie written with it")
	}
}

func TestWhenCookieIsSet(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	tests := []struct {
		name    string
		opts    Options
		prior   string        // data of an existing session; "" for none
		advance time.Duration // time since the prior session was saved
		change  Change
		want    bool
	}{
		{"new and empty", Options{}, "", 0, Change{}, false},
		{"new and empty, rolling", Options{Rolling: true}, "", 0, Change{}, false},
		{"new and empty after a no-op patch", Options{}, "", 0, set(`{"a":null}`), false},
		{"new with data", Options{}, "", 0, set(`{"a":1}`), true},
		{"unchanged", Options{}, `{"a":1}`, 0, Change{}, false},
		{"same value set", Options{}, `{"a":1}`, 0, set(`{"a":1}`), false},
		{"changed", Options{}, `{"a":1}`, 0, set(`{"a":2}`), true},
		{"emptied", Options{}, `{"a":1}`, 0, set(`{"a":null}`), true},
		{"rolling", Options{Rolling: true}, `{"a":1}`, 0, Change{}, true},
		{"renew, fresh", Options{Renew: true, MaxAge: MaxAge(time.Hour)}, `{"a":1}`, 10 * time.Minute, Change{}, false},
		{"renew, past half", Options{Renew: true, MaxAge: MaxAge(time.Hour)}, `{"a":1}`, 31 * time.Minute, Change{}, true},
		{"max-age directive", Options{}, `{"a":1}`, 0, Change{MaxAge: MaxAge(time.Minute)}, true},
		{"renew directive", Options{}, `{"a":1}`, 0, Change{Renew: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = clk.now
			m := newManager(t, tc.opts)
			clk.t = time.Unix(1_700_000_000, 0)
			var cookies []*http.Cookie
			if tc.prior != "" {
				_, cookies = roundTrip(t, m, nil, set(tc.prior))
			}
			clk.t = clk.t.Add(tc.advance)
			_, got := roundTrip(t, m, cookies, tc.change)
			if (len(got) > 0) != tc.want {
				t.Errorf("Set-Cookie %v, want one: %v", got, tc.want)
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	m := newManager(t, Options{})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	_, got := roundTrip(t, m, cookies, Change{Destroy: true})
	if len(got) != 1 || got[0].Value != "" || !got[0].Expires.Before(time.Unix(1, 0)) {
		t.Fatalf("destroy set %v, want the cookie expired", got)
	}
	first, _ := roundTrip(t, m, cookies, Change{})
	s, got := roundTrip(t, m, cookies, Change{Destroy: true, Set: [][]byte{[]byte(`{"b":2}`)}})
	if len(got) != 1 || got[0].Value == "" {
		t.Fatalf("destroy with set: cookies %v, want a new session", got)
	}
	next, _ := roundTrip(t, m, got, Change{})
	if next.ID == first.ID || string(next.Data) != `{"b":2}` || s.ID != first.ID {
		t.Errorf("destroy with set gave %+v, want a new id with only b", next)
	}
}

func TestRenewAndMaxAge(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := newManager(t, Options{Now: clk.now, MaxAge: MaxAge(time.Hour)})
	first, cookies := roundTrip(t, m, nil, set(`{"a":1}`))

	clk.t = clk.t.Add(50 * time.Minute)
	_, renewed := roundTrip(t, m, cookies, Change{Renew: true})
	s, _ := roundTrip(t, m, renewed, Change{})
	if s.ID == first.ID || string(s.Data) != `{"a":1}` {
		t.Errorf("renew: %+v, want a new id with the same data", s)
	}
	if want := clk.t.Add(time.Hour); !s.Expire.Equal(want) {
		t.Errorf("renew: expires %v, want %v (fresh)", s.Expire, want)
	}

	_, remembered := roundTrip(t, m, renewed, Change{MaxAge: MaxAge(30 * 24 * time.Hour)})
	_, later := roundTrip(t, m, remembered, set(`{"b":2}`))
	if d := later[0].Expires.Sub(clk.t); d != 30*24*time.Hour {
		t.Errorf("after X-Session-Max-Age the next save expires in %v, want 720h", d)
	}
	_, browser := roundTrip(t, m, later, Change{MaxAge: Browser})
	if !browser[0].Expires.IsZero() {
		t.Errorf("maxAge session: cookie expires %v, want a browser-session cookie", browser[0].Expires)
	}
	clk.t = clk.t.Add(365 * 24 * time.Hour)
	if s, _ := roundTrip(t, m, browser, Change{}); s.IsNew || s.MaxAge != Browser {
		t.Errorf("a browser-session cookie expired on its own: %+v", s)
	}
}

func TestRecordLayout(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		name string
		data string
		m    MaxAge
		want string
	}{
		{"empty", `{}`, MaxAge(time.Hour), `{"_expire":1700003600123,"_maxAge":3600000}`},
		{"data", `{"a":1}`, MaxAge(time.Hour), `{"a":1,"_expire":1700003600123,"_maxAge":3600000}`},
		{"browser", `{"a":1}`, Browser, `{"a":1,"_session":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appendRecord(nil, json.RawMessage(tc.data), tc.m, now, stamps{})
			if string(got) != tc.want {
				t.Errorf("record %s, want %s", got, tc.want)
			}
			r, err := parseRecord(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.data) != tc.data || r.maxAge != tc.m {
				t.Errorf("parsed back %+v", r)
			}
		})
	}
}

func TestSecureAuto(t *testing.T) {
	m := newManager(t, Options{SecureAuto: true})
	for _, tls := range []bool{false, true} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tls {
			r = httptest.NewRequest(http.MethodGet, "https://example.test/", nil)
		}
		s, _ := m.Load(context.Background(), r)
		h := http.Header{}
		if _, err := m.Commit(context.Background(), r, s, set(`{"a":1}`), h); err != nil {
			t.Fatal(err)
		}
		if c := (&http.Response{Header: h}).Cookies()[0]; c.Secure != tls {
			t.Errorf("TLS %v: cookie Secure = %v", tls, c.Secure)
		}
	}
}

func TestSessionTooLargeForCookie(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 4000) + `"}`
	for _, f := range []Format{FormatSecure, FormatKoa} {
		t.Run(string(f), func(t *testing.T) {
			m := newManager(t, Options{Format: f})
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			s, _ := m.Load(context.Background(), r)
			h := http.Header{}
			_, err := m.Commit(context.Background(), r, s, set(big), h)
			if !errors.Is(err, ErrCookieTooLarge) || !strings.Contains(err.Error(), "store.type") {
				t.Errorf("error %v, want ErrCookieTooLarge with advice", err)
			}
			if len(h) != 0 {
				t.Errorf("headers written: %v", h)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no keys", Options{Keys: []string{}}, "at least one key"},
		{"empty key", Options{Keys: []string{key1, ""}}, "keys[1] is empty"},
		{"unknown format", Options{Format: "json"}, `unknown format "json"`},
		{"unsigned ids in a store", Options{Format: FormatKoa, Unsigned: true, Store: NewMemoryStore(MemoryOptions{})}, "Unsigned cannot be used with a Store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Keys == nil {
				tc.opts.Keys = []string{key1}
			}
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// firstExpire returns the expiry of the session in cookies, read by m.
func firstExpire(t *testing.T, m *Manager, cookies []*http.Cookie) time.Time {
	t.Helper()
	s, _ := roundTrip(t, m, cookies, Change{})
	return s.Expire
}

func TestDestroyWithEmptySetExpiresTheCookie(t *testing.T) {
	m := newManager(t, Options{})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	_, got := roundTrip(t, m, cookies, Change{Destroy: true, Set: [][]byte{[]byte(`{"a":null}`)}})
	if len(got) != 1 || got[0].Value != "" {
		t.Errorf("destroy with an empty new session set %v, want the cookie expired", got)
	}
}
