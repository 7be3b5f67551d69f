package session

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	m := newManager(t, Options{})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	c := m.codec.(*secureCodec)

	read := func(value string) readResult {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "koa.sess", Value: value})
		return c.read(r, "koa.sess")
	}
	if once := read(cookies[0].Value); once.payload == nil || once.memo != nil || c.seen.len() != 0 {
		t.Fatalf("a value seen once was cached: %+v, %d cached", once, c.seen.len())
	}
	first := read(cookies[0].Value) // returning: now it is remembered
	if first.payload == nil || c.seen.len() != 1 {
		t.Fatalf("a verified cookie was not remembered: %+v, %d cached", first, c.seen.len())
	}
	// The request that cached the payload shares it (it only reads it); a
	// later one that needs the bytes gets a copy of its own.
	again := read(cookies[0].Value)
	if again.payload == nil || !bytes.Equal(again.payload, first.payload) || &again.payload[0] == &first.payload[0] {
		t.Errorf("a cache hit gave %q, shared: %v; the first read %q", again.payload, again.payload != nil && &again.payload[0] == &first.payload[0], first.payload)
	}
	if s, _ := roundTrip(t, m, cookies, Change{}); s.IsNew || string(s.Data) != `{"a":1}` {
		t.Errorf("a cached cookie did not load its session: %+v", s)
	}

	tampered := []byte(cookies[0].Value)
	tampered[len(tampered)/2] ^= 1
	for range 2 {
		if rr := read(string(tampered)); rr.reject != RejectTampered {
			t.Fatalf("a tampered value was accepted: %+v", rr)
		}
	}
	if c.seen.len() != 1 {
		t.Errorf("a tampered value was cached: %d entries", c.seen.len())
	}
}

// Values seen only once, as on a site where most clients are not back
// before the cache would drop them, are not cached at all; a value is
// cached when it returns, if not too many others came between.
func TestVerifiedCacheAdmitsReturningValues(t *testing.T) {
	var c verifiedCache
	for i := range 2 * verifiedDoorSize {
		if c.admit(fmt.Sprint("once-", i)) {
			t.Fatalf("value %d, seen once, was admitted", i)
		}
	}
	if !c.admit("once-0") && !c.admit("once-0") {
		t.Error("a value seen twice in a row was not admitted")
	}
	c.admit("returning")
	slot := func(v string) uint64 { return (maphash.String(c.seed, v) | 1) % verifiedDoorSize }
	for i := range verifiedDoorSize / 64 {
		if v := fmt.Sprint("between-", i); slot(v) != slot("returning") { // not one that takes its slot
			c.admit(v)
		}
	}
	if !c.admit("returning") {
		t.Error("a value back after a few others was not admitted")
	}
	if c.admit(string(make([]byte, verifiedValueMax+1))) || c.admit(string(make([]byte, verifiedValueMax+1))) {
		t.Error("a value over verifiedValueMax was admitted")
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	var c verifiedCache
	for i := range 3*verifiedCacheSize + 7 {
		c.put(fmt.Sprint(i), verified{})
	}
	if n := c.len(); n > 2*verifiedCacheSize {
		t.Errorf("%d entries, want at most %d", n, 2*verifiedCacheSize)
	}
	c.put(string(make([]byte, verifiedValueMax+1)), verified{})
	if _, ok := c.get(string(make([]byte, verifiedValueMax+1))); ok {
		t.Error("a value over verifiedValueMax was cached")
	}
}

// The cache must not let an expired session through: expiry is checked on
// every load, from the payload, whether or not the value was cached.
func TestVerifiedCacheStillChecksExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := newManager(t, Options{Now: clk.now, MaxAge: MaxAge(time.Minute)})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	if s, _ := roundTrip(t, m, cookies, Change{}); s.IsNew {
		t.Fatal("fresh cookie not loaded")
	}
	clk.t = clk.t.Add(time.Minute + time.Second)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	if s, _ := m.Load(context.Background(), r); s.Rejected != RejectExpired {
		t.Errorf("a cached but expired cookie gave %+v", s)
	}
}

// A returning cookie's record is parsed once and remembered; every load
// still gets the data and the session's expiry, whatever the session it
// was handed before was set to (Data is replaced, never changed in place).
func TestVerifiedCacheRemembersTheRecord(t *testing.T) {
	m := newManager(t, Options{})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1,"b":[2]}`))
	load := func() *Session {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(cookies[0])
		s, err := m.Load(context.Background(), r)
		if err != nil || s.IsNew {
			t.Fatalf("Load: %+v, %v", s, err)
		}
		return s
	}
	load() // seen once: not remembered yet
	first := load()
	rr := m.codec.(*secureCodec).seen.cur[cookies[0].Value]
	if rr.memo.get() == nil {
		t.Fatal("the parsed record was not remembered")
	}
	first.Data = []byte(`{"x":1}`) // a caller setting its session changes nothing cached
	for range 2 {
		s := load()
		if string(s.Data) != `{"a":1,"b":[2]}` || s.ID != first.ID || !s.Expire.Equal(first.Expire) || s.MaxAge != first.MaxAge {
			t.Fatalf("a remembered record loaded %+v; the first load gave %+v", s, first)
		}
		s.Data = nil
	}
}

// A payload that verifies but does not parse stays malformed when cached.
func TestVerifiedCacheRemembersMalformed(t *testing.T) {
	m := newManager(t, Options{})
	c := m.codec.(*secureCodec)
	v, err := c.keys[0].seal("koa.sess", []byte("id.not json"), time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "koa.sess", Value: v})
		if s, _ := m.Load(context.Background(), r); s.Rejected != RejectMalformed {
			t.Errorf("load %d: %+v, want rejected as malformed", i+1, s)
		}
	}
}

func TestStoreKeys(t *testing.T) {
	for _, tc := range []struct {
		f    Format
		want KeyLayout
	}{
		{FormatKoa, KeyLayout{IDPrefix: "koa:sess:"}},
		{FormatSecure, KeyLayout{KeyPrefix: "koa:sess:", HashIDs: true}},
		{"", KeyLayout{KeyPrefix: "koa:sess:", HashIDs: true}},
	} {
		if got := tc.f.StoreKeys("koa:sess:"); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.f, got, tc.want)
		}
	}
}
