package session

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// lookup returns what c remembers of value.
func lookup(c *verifiedCache, value string) (memo, bool) { return c.get(c.hash(value), value) }

func TestVerifiedCache(t *testing.T) {
	m := newManager(t, Options{})
	// Issued by another replica with the same keys: this one has not
	// seen it (what it issues itself it remembers at once).
	_, cookies := roundTrip(t, newManager(t, Options{}), nil, set(`{"a":1}`))
	c := m.codec.(*secureCodec)

	load := func(value string) *Session {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "koa.sess", Value: value})
		s, err := m.Load(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if once := load(cookies[0].Value); once.IsNew || c.seen.len() != 0 {
		t.Fatalf("a value seen once was cached: %+v, %d cached", once, c.seen.len())
	}
	first := load(cookies[0].Value) // returning: now it is remembered
	if first.IsNew || c.seen.len() != 1 {
		t.Fatalf("a verified cookie was not remembered: %+v, %d cached", first, c.seen.len())
	}
	// From the cache: the same session, without its payload (only a
	// cookie an older key verified keeps it, to be re-issued).
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	rr, memo := c.read(r, "koa.sess")
	if !memo.found() || rr.payload != nil || rr.seen != &c.seen {
		t.Errorf("a cache hit gave %+v, memo found %v", rr, memo.found())
	}
	if s := load(cookies[0].Value); s.IsNew || s.ID != first.ID || string(s.Data) != `{"a":1}` {
		t.Errorf("a cached cookie did not load its session: %+v", s)
	}

	tampered := []byte(cookies[0].Value)
	tampered[len(tampered)/2] ^= 1
	for range 2 {
		if s := load(string(tampered)); s.Rejected != RejectTampered {
			t.Fatalf("a tampered value was accepted: %+v", s)
		}
	}
	if c.seen.len() != 1 {
		t.Errorf("a tampered value was cached: %d entries", c.seen.len())
	}
}

// A value the codec issued is remembered at once, with its payload: the
// client's next request, which sends it back, needs no key. Values
// issued and never sent back push out only each other.
func TestVerifiedCacheRemembersIssuedValues(t *testing.T) {
	m := newManager(t, Options{})
	first, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	c := m.codec.(*secureCodec)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	if _, memo := c.read(r, "koa.sess"); !memo.found() {
		t.Fatal("the cookie the codec issued was not remembered")
	}
	s, again := roundTrip(t, m, cookies, Change{})
	if s.IsNew || s.ID != first.ID || string(s.Data) != `{"a":1}` || len(again) != 0 {
		t.Fatalf("the remembered cookie loaded %+v (Set-Cookie %v), want session %s with {\"a\":1}", s, again, first.ID)
	}
	if c.seen.len() != 1 {
		t.Errorf("%d values cached after the issued one came back, want 1", c.seen.len())
	}

	// A returning client's value stays while many more are issued.
	var cache verifiedCache
	returning := "returning"
	cache.put(cache.hash(returning), returning, remembered{})
	value := func(i int) string { return fmt.Sprintf("%0700d", i) }
	const n = 2*verifiedCacheSize + 7 // enough to push it out of cur and prev, had they gone there
	for i := range n {
		cache.issue(value(i), "", []byte(`id.{"a":1}`))
	}
	if _, ok := lookup(&cache, returning); !ok {
		t.Error("issuing values pushed a returning client's value out")
	}
	if _, ok := lookup(&cache, value(0)); ok {
		t.Errorf("the first of %d issued values is still held; want at most %d", n, 2*verifiedIssuedSize)
	}
	m0, ok := lookup(&cache, value(n-1))
	if !ok || string(m0.payload()) != `id.{"a":1}` || m0.e.parsed {
		t.Errorf("the last value issued: found %v, payload %q, parsed %v; want its payload, not parsed", ok, m0.payload(), m0.e.parsed)
	}
	cache.mu.Lock()
	held := len(cache.issued.entries) + len(cache.issuedPrev.entries)
	cache.mu.Unlock()
	if held > 2*verifiedIssuedSize {
		t.Errorf("%d issued values held, want at most %d", held, 2*verifiedIssuedSize)
	}

	// Their bytes are bounded too: large payloads push out each other
	// sooner.
	big := bytes.Repeat([]byte("x"), verifiedIssuedArena/3)
	for i := range 10 {
		cache.issue(value(i), "sig", big)
	}
	cache.mu.Lock()
	size := cache.issued.size + cache.issuedPrev.size
	cache.mu.Unlock()
	if size > 2*verifiedIssuedArena {
		t.Errorf("issued values hold %d bytes, want at most %d", size, 2*verifiedIssuedArena)
	}
	if m, ok := lookup(&cache, value(9)); !ok || !bytes.Equal(m.payload(), big) || string(m.e.sig.in(m.arena)) != "sig" {
		t.Errorf("the last large value issued: found %v; want it with its payload and signature", ok)
	}

	// An issued generation's chunks are written again once it is
	// dropped; what a request got for an issued value stays as it was,
	// and the chunks held stay bounded.
	back, ok := lookup(&cache, value(8))
	if !ok {
		t.Fatal("an issued value was not found")
	}
	for i := range 4 * verifiedIssuedSize {
		cache.issue(value(i+100), "s", []byte(fmt.Sprintf("%0600d", i)))
	}
	if string(back.e.value.in(back.arena)) != value(8) || !bytes.Equal(back.payload(), big) {
		t.Error("issuing more values changed what an earlier lookup returned")
	}
	cache.mu.Lock()
	held = 0
	for _, g := range []*generation{&cache.issued, &cache.issuedPrev} {
		for _, chunks := range [][][]byte{g.arena, g.spare} {
			for _, c := range chunks {
				held += cap(c)
			}
		}
	}
	cache.mu.Unlock()
	if limit := 2 * (verifiedIssuedArena + verifiedChunkSize); held > limit {
		t.Errorf("issued generations hold %d bytes of chunks, want at most %d", held, limit)
	}
	last := value(4*verifiedIssuedSize + 99)
	if m, ok := lookup(&cache, last); !ok || string(m.payload()) != fmt.Sprintf("%0600d", 4*verifiedIssuedSize-1) {
		t.Errorf("the last value issued into a recycled generation: found %v, payload %.20q", ok, m.payload())
	}
}

// Values seen only once, as on a site where most clients are not back
// before the cache would drop them, are not cached at all; a value is
// cached when it returns, if not too many others came between.
func TestVerifiedCacheAdmitsReturningValues(t *testing.T) {
	var c verifiedCache
	admit := func(v string) bool { return c.admit(c.hash(v), v) }
	for i := range 2 * verifiedDoorSize {
		if admit(fmt.Sprint("once-", i)) {
			t.Fatalf("value %d, seen once, was admitted", i)
		}
	}
	if !admit("once-0") && !admit("once-0") {
		t.Error("a value seen twice in a row was not admitted")
	}
	admit("returning")
	slot := func(v string) uint64 { return maphash.String(c.seed, v) % verifiedDoorSize }
	for i := range verifiedDoorSize / 64 {
		if v := fmt.Sprint("between-", i); slot(v) != slot("returning") { // not one that takes its slot
			admit(v)
		}
	}
	if !admit("returning") {
		t.Error("a value back after a few others was not admitted")
	}
	if admit(string(make([]byte, verifiedValueMax+1))) || admit(string(make([]byte, verifiedValueMax+1))) {
		t.Error("a value over verifiedValueMax was admitted")
	}
}

// The doorkeeper remembers as many values as it has slots: values whose
// hashes fall in different slots do not push each other out, even in
// slots told apart only by the hash's low bit, which admit sets in what
// it stores.
func TestVerifiedCacheDoorUsesEverySlot(t *testing.T) {
	var c verifiedCache
	// Hashes that differ in their high bits and fall in slots 0, 1, 2, ….
	h := func(i int) uint64 { return uint64(i)<<32 | uint64(i) }
	for i := range verifiedDoorSize {
		if c.admit(h(i), "v") {
			t.Fatalf("value %d, seen once, was admitted", i)
		}
	}
	for i := range verifiedDoorSize {
		if !c.admit(h(i), "v") {
			t.Fatalf("value %d of %d, back after %d others, was not admitted", i, verifiedDoorSize, verifiedDoorSize-1)
		}
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	var c verifiedCache
	put := func(value string, v remembered) { c.put(c.hash(value), value, v) }
	// Values of a secure cookie's size: a generation spans many chunks.
	value := func(i int) string { return fmt.Sprintf("%0900d", i) }
	const n = 3*verifiedCacheSize + 7
	for i := range n {
		put(value(i), remembered{})
	}
	if got := c.len(); got > 2*verifiedCacheSize {
		t.Errorf("%d entries, want at most %d", got, 2*verifiedCacheSize)
	}
	for i := n - verifiedCacheSize; i < n; i++ {
		if _, ok := lookup(&c, value(i)); !ok {
			t.Fatalf("value %d of the last %d put is not found", i, verifiedCacheSize)
		}
	}
	// Few values, each with a large record: the bytes bound them.
	big := parsedPayload{id: "id", stored: make([]byte, verifiedRecordMax), rec: record{data: make([]byte, verifiedRecordMax)}}
	for i := range 4 * verifiedArenaSize / (2 * verifiedRecordMax) {
		put(fmt.Sprint("big-", i), remembered{parsed: &big})
	}
	c.mu.Lock()
	arena := c.cur.size + c.prev.size
	c.mu.Unlock()
	if arena > 2*verifiedArenaSize {
		t.Errorf("%d bytes held, want at most %d", arena, 2*verifiedArenaSize)
	}
	put(string(make([]byte, verifiedValueMax+1)), remembered{})
	if _, ok := lookup(&c, string(make([]byte, verifiedValueMax+1))); ok {
		t.Error("a value over verifiedValueMax was cached")
	}
}

// The cache gives back the record a request remembered, field for field,
// from either generation; the data it hands out cannot be appended to
// over the bytes that follow it.
// A cache holds what its values need, in chunks that start small: a
// proxy with a few sessions keeps kilobytes live, not a quarter megabyte
// of the collector's 4 MB heap goal. A busy one's chunks reach
// verifiedChunkSize and stay there.
func TestVerifiedCacheGrowsItsChunks(t *testing.T) {
	var c verifiedCache
	var held []int // the capacity of the generation's chunks after each value
	for i := range 800 {
		value := fmt.Sprintf("%0900d", i) // a secure cookie's size
		c.put(c.hash(value), value, remembered{})
		c.mu.Lock()
		n := 0
		for _, chunk := range c.cur.arena {
			n += cap(chunk)
		}
		c.mu.Unlock()
		held = append(held, n)
	}
	if held[0] != verifiedFirstChunk {
		t.Errorf("one value: %d bytes of chunks, want %d", held[0], verifiedFirstChunk)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var sizes []int
	for _, chunk := range c.cur.arena {
		sizes = append(sizes, cap(chunk))
	}
	want := []int{16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10}
	if len(sizes) < len(want)+1 || !slices.Equal(sizes[:len(want)], want) || sizes[len(want)] != verifiedChunkSize {
		t.Errorf("chunks of 800 values: %v, want %v then %d each", sizes, want, verifiedChunkSize)
	}
}

func TestVerifiedCacheKeepsTheRecord(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	for _, tc := range []struct {
		name string
		p    parsedPayload
	}{
		{"secure", parsedPayload{id: "abc", rec: record{data: []byte(`{"a":1}`), expire: ms(1_700_000_000_123), maxAge: MaxAge(time.Hour)}}},
		{"koa browser", parsedPayload{rec: record{data: []byte(`{}`), maxAge: Browser, isBrowser: true}}},
		{"stamped", parsedPayload{id: "x", rec: record{data: []byte(`{"u":"me"}`), expire: ms(5), created: ms(1), used: ms(-2)}}},
		{"store", parsedPayload{id: "id-1", rec: record{data: []byte(`{"n":1}`), expire: ms(9), ended: true}, stored: []byte(`{"n":1,"_expire":9,"_ended":true}`)}},
		{"malformed", parsedPayload{malformed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c verifiedCache
			h := c.hash("value")
			c.put(h, "value", remembered{sig: "sig", payload: tc.p.id, parsed: &tc.p})
			check := func(when string) {
				t.Helper()
				m, ok := c.get(h, "value")
				got, parsed := m.parsed()
				if !ok || !parsed || !sameParse(got, tc.p) || string(m.e.sig.in(m.arena)) != "sig" || string(m.payload()) != tc.p.id {
					t.Fatalf("%s: %+v (found %v, parsed %v), want %+v", when, got, ok, parsed, tc.p)
				}
				_ = append(got.rec.data, "!!!!"...)
				_ = append(got.stored, "!!!!"...)
			}
			check("first")
			check("again, after appending to what it gave")
			for i := range verifiedCacheSize { // "value" moves to the older generation
				c.put(c.hash(fmt.Sprint(i)), fmt.Sprint(i), remembered{})
			}
			check("from the older generation")
			check("moved back to the newer")
		})
	}
}

func sameParse(a, b parsedPayload) bool {
	return a.id == b.id && a.malformed == b.malformed && bytes.Equal(a.stored, b.stored) &&
		bytes.Equal(a.rec.data, b.rec.data) && a.rec.expire.Equal(b.rec.expire) && a.rec.created.Equal(b.rec.created) &&
		a.rec.used.Equal(b.rec.used) && a.rec.maxAge == b.rec.maxAge && a.rec.isBrowser == b.rec.isBrowser && a.rec.ended == b.rec.ended
}

// Two values of the same hash: the cache holds the later, and never gives
// one's record for the other.
func TestVerifiedCacheHashCollision(t *testing.T) {
	var c verifiedCache
	a := parsedPayload{id: "a", rec: record{data: []byte(`{"a":1}`)}}
	b := parsedPayload{id: "b", rec: record{data: []byte(`{"b":1}`)}}
	c.put(7, "value-a", remembered{parsed: &a})
	c.put(7, "value-b", remembered{parsed: &b})
	if _, ok := c.get(7, "value-a"); ok {
		t.Error("value-a found in value-b's entry")
	}
	if m, ok := c.get(7, "value-b"); !ok {
		t.Error("value-b not found")
	} else if p, _ := m.parsed(); p.id != "b" {
		t.Errorf("value-b gave %+v", p)
	}
}

// The collector need not look inside the cache: its entries hold no
// pointers (a generation's map, its entries and the arena's chunks are the
// only objects it marks).
// A field with a pointer (a string, a slice, a time.Time) would bring back
// a mark for every entry in every cycle.
func TestVerifiedCacheEntriesHoldNoPointers(t *testing.T) {
	var walk func(reflect.Type) string
	walk = func(t reflect.Type) string {
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				if p := walk(t.Field(i).Type); p != "" {
					return t.Field(i).Name + "." + p
				}
			}
			return ""
		case reflect.Array:
			return walk(t.Elem())
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return ""
		}
		return t.String()
	}
	g := reflect.TypeFor[generation]()
	for i := range g.NumField() {
		f := g.Field(i)
		var held []reflect.Type
		switch f.Type.Kind() {
		case reflect.Map:
			held = []reflect.Type{f.Type.Key(), f.Type.Elem()}
		case reflect.Slice:
			e := f.Type.Elem()
			for e.Kind() == reflect.Slice { // the arena: chunks of bytes
				e = e.Elem()
			}
			held = []reflect.Type{e}
		default:
			held = []reflect.Type{f.Type}
		}
		for _, typ := range held {
			if p := walk(typ); p != "" {
				t.Errorf("generation.%s holds %s, with a pointer: %s", f.Name, typ, p)
			}
		}
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
	if m, ok := lookup(&m.codec.(*secureCodec).seen, cookies[0].Value); !ok || !m.e.parsed {
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

// Requests in parallel, hitting and filling the verified cache of each
// kind (cookie records, a store's records written meanwhile) through more
// values than a generation holds: every load gets its own session, and
// the race detector (test/run.sh runs it) sees the cache's bytes shared
// safely.
func TestVerifiedCacheConcurrent(t *testing.T) {
	const sessions, workers = verifiedCacheSize + 1500, 4
	const loads = 2*sessions + 1000
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"secure", Options{}},
		{"koa", Options{Format: FormatKoa}},
		{"secure memory", Options{Store: NewMemoryStore(MemoryOptions{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, tc.opts)
			cookies := make([][]*http.Cookie, sessions)
			for i := range cookies {
				_, cookies[i] = roundTrip(t, m, nil, set(fmt.Sprintf(`{"u":%d}`, i)))
			}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for j := range loads {
						i := (j/2 + w*100) % sessions // each twice: remembered
						if j%4 == 3 {
							i = j % 64 // a few hot sessions, remembered early
						}
						r := httptest.NewRequest(http.MethodGet, "/", nil)
						for _, c := range cookies[i] {
							r.AddCookie(c)
						}
						s, err := m.Load(context.Background(), r)
						u := fmt.Appendf(nil, `"u":%d`, i) // beside "n" when written: {"n":1,"u":0}
						if err != nil || s.IsNew || !(bytes.Contains(s.Data, append(u, '}')) || bytes.Contains(s.Data, append(u, ','))) {
							t.Errorf("worker %d, session %d: %s %v (rejected %q)", w, i, s.Data, err, s.Rejected)
							return
						}
						// With a store, worker 0 writes its hot sessions'
						// records as the others read them.
						if tc.opts.Store != nil && w == 0 && j%4 == 3 {
							ch := set(fmt.Sprintf(`{"n":%d}`, j))
							if _, err := m.Commit(context.Background(), r, s, ch, http.Header{}); err != nil {
								t.Errorf("commit: %v", err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			c := m.codecCache()
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.prev.entries) == 0 {
				t.Errorf("the cache never filled a generation: %d values", len(c.cur.entries))
			}
		})
	}
}

// codecCache returns the verified cache of m's codec.
func (m *Manager) codecCache() *verifiedCache {
	if c, ok := m.codec.(*secureCodec); ok {
		return &c.seen
	}
	return &m.codec.(*koaCodec).seen
}

// A generation's filter never turns away a hash it holds, and turns away
// nearly every other one, so that a value in no generation costs four
// words rather than four index lookups.
func TestVerifiedCacheFilter(t *testing.T) {
	var seed = maphash.MakeSeed()
	hash := func(i int) uint64 { return maphash.Comparable(seed, i) }
	f := newFilter(verifiedCacheSize)
	for i := range verifiedCacheSize {
		f.add(hash(i))
	}
	for i := range verifiedCacheSize {
		if !f.has(hash(i)) {
			t.Fatalf("hash %d, added, is not in the filter", i)
		}
	}
	const absent = 100_000
	maybe := 0
	for i := verifiedCacheSize; i < verifiedCacheSize+absent; i++ {
		if f.has(hash(i)) {
			maybe++
		}
	}
	if rate := float64(maybe) / absent; rate > 0.03 {
		t.Errorf("the full filter says maybe for %.1f%% of hashes never added, want at most 3%%", 100*rate)
	}
	if (filter)(nil).has(hash(0)) {
		t.Error("a nil filter holds a hash")
	}
}

// A generation made when the oldest is dropped starts with an empty
// filter: the dropped values' hashes do not stay in it, saying "maybe"
// for values no generation holds.
func TestVerifiedCacheFilterForgetsDroppedValues(t *testing.T) {
	var c verifiedCache
	value := func(i int) string { return fmt.Sprint("value-", i) }
	for i := range 3 * verifiedCacheSize {
		c.put(c.hash(value(i)), value(i), remembered{})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	maybe := 0
	for i := range verifiedCacheSize { // dropped two turns ago
		h := c.hash(value(i))
		if c.cur.filter.has(h) || c.prev.filter.has(h) {
			maybe++
		}
	}
	if maybe > verifiedCacheSize/10 {
		t.Errorf("%d of %d dropped values still pass a generation's filter", maybe, verifiedCacheSize)
	}
}
