package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request that loaded a session before another request destroyed it
// must not bring it back with its Set: that would undo a logout.
func TestConcurrentDestroyIsNotUndone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other Change
	}{
		{"destroy", Change{Destroy: true}},
		{"renew", Change{Renew: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore(MemoryOptions{})
			m := newManager(t, Options{Store: store})
			_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))

			slowReq, slow := loadExisting(t, m, cookies)
			fastReq, fast := loadExisting(t, m, cookies)
			if _, err := m.Commit(context.Background(), fastReq, fast, tc.other, http.Header{}); err != nil {
				t.Fatal(err)
			}
			before := store.Len()
			h := http.Header{}
			out, err := m.Commit(context.Background(), slowReq, slow, set(`{"late":true}`), h)
			if err != nil {
				t.Fatal(err)
			}
			if out.Saved || len(h["Set-Cookie"]) != 0 || store.Len() != before {
				t.Errorf("the late Set recreated the session: outcome %+v, cookies %v, %d entries (was %d)",
					out, h["Set-Cookie"], store.Len(), before)
			}
			if !out.Dropped {
				t.Errorf("outcome %+v: want Dropped, so that the dropped change is logged and counted", out)
			}
			if _, ok, _ := store.Load(context.Background(), slow.ID); ok {
				t.Error("the old id is back in the store")
			}
		})
	}
}

// A rolling re-issue that finds the session ended meanwhile asked for no
// change: nothing was dropped, and nothing is counted as dropped.
func TestRollingReissueOfAnEndedSessionDropsNothing(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	m := newManager(t, Options{Store: store, Rolling: true})
	_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))
	slowReq, slow := loadExisting(t, m, cookies)
	fastReq, fast := loadExisting(t, m, cookies)
	if _, err := m.Commit(context.Background(), fastReq, fast, Change{Destroy: true}, http.Header{}); err != nil {
		t.Fatal(err)
	}
	out, err := m.Commit(context.Background(), slowReq, slow, Change{}, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Dropped || out.Saved {
		t.Errorf("outcome %+v: a re-issue with no change dropped nothing", out)
	}
}

// brokenWrites is a store whose writes fail, as in an outage that began
// between a request's load and its commit.
type brokenWrites struct{ Store }

func (brokenWrites) Update(context.Context, string, []byte, UpdateFunc) error {
	return errors.New("connection refused")
}

// A destroy that starts a new session must not delete the old one when the
// new one cannot be written: the client keeps a working cookie.
func TestDestroyWithSetIsAllOrNothing(t *testing.T) {
	mem := NewMemoryStore(MemoryOptions{})
	_, cookies := roundTrip(t, newManager(t, Options{Store: mem}), nil, set(`{"user":"john"}`))

	m := newManager(t, Options{Store: brokenWrites{mem}})
	r, s := loadExisting(t, m, cookies)
	old := s.ID
	h := http.Header{}
	_, err := m.Commit(context.Background(), r, s, Change{Destroy: true, Set: [][]byte{[]byte(`{"guest":true}`)}}, h)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	if len(h) != 0 {
		t.Errorf("headers written: %v", h)
	}
	if _, ok, _ := mem.Load(context.Background(), old); !ok {
		t.Error("the old session was deleted although the new one was never written")
	}
}

// loadExisting loads the session that cookies name, which must exist.
func loadExisting(t *testing.T, m *Manager, cookies []*http.Cookie) (*http.Request, *Session) {
	t.Helper()
	r := cookieRequest(cookies)
	s, err := m.Load(context.Background(), r)
	if err != nil || s.IsNew {
		t.Fatalf("Load: %+v, %v", s, err)
	}
	return r, s
}

// cookieRequest is a request carrying cookies.
func cookieRequest(cookies []*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

// rememberedSession signs in a session of data through a Manager on
// store, and loads it twice, so that its verified cache remembers it.
func rememberedSession(t *testing.T, store Store, data string) (*Manager, []*http.Cookie) {
	t.Helper()
	m := newManager(t, Options{Store: store})
	_, cookies := roundTrip(t, m, nil, set(data))
	loadExisting(t, m, cookies)
	loadExisting(t, m, cookies) // seen twice: remembered
	return m, cookies
}

// A returning cookie's record is parsed once and remembered, but a load
// still gives what the store holds now: a record another replica changed,
// one that is no longer valid, one deleted, and one that expired
// meanwhile. From a RevisionStore, a remembered record that is still the
// stored one is not copied out of the store again.
func TestStoreRecordMemo(t *testing.T) {
	for _, revisions := range []bool{true, false} {
		t.Run(fmt.Sprintf("revisions=%v", revisions), func(t *testing.T) {
			testStoreRecordMemo(t, revisions)
		})
	}
}

func testStoreRecordMemo(t *testing.T, revisions bool) {
	ctx := context.Background()
	now := time.Now()
	mem := NewMemoryStore(MemoryOptions{})
	counted := &countingRevisions{MemoryStore: mem}
	var store Store = plainStore{counted}
	if revisions {
		store = counted
	}
	m := newManager(t, Options{Store: store, Now: func() time.Time { return now }})
	_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))
	_, s := loadExisting(t, m, cookies)
	id := s.ID
	expire := now.Add(time.Hour).UnixMilli()
	record := func(data string) []byte {
		return fmt.Appendf(nil, `{%s,"_expire":%d,"_maxAge":86400000}`, data, expire)
	}
	for _, step := range []struct {
		name   string
		record []byte // saved under id first; nil: left as it is
		delete bool   // id deleted first
		after  time.Duration
		want   string // the session's data; "" for a rejected one
		reject string
		copied bool // the store gave the record's bytes (a RevisionStore)
	}{
		// loadExisting's read was the issued cookie's first return,
		// which parsed the record and remembered it.
		{name: "as saved", want: `{"user":"john"}`},
		{name: "again, remembered", want: `{"user":"john"}`},
		{name: "changed by another replica", record: record(`"user":"jane"`), want: `{"user":"jane"}`, copied: true},
		{name: "changed again", record: record(`"user":"joe","n":1`), want: `{"user":"joe","n":1}`, copied: true},
		{name: "unchanged", want: `{"user":"joe","n":1}`},
		{name: "not a record", record: []byte(`["user"]`), reject: RejectMalformed, copied: true},
		{name: "valid again", record: record(`"user":"ann"`), want: `{"user":"ann"}`, copied: true},
		{name: "deleted by another replica", delete: true, reject: RejectUnknown},
		{name: "saved again", record: record(`"user":"ann"`), want: `{"user":"ann"}`, copied: true},
		{name: "expired since", after: 2 * time.Hour, reject: RejectExpired},
	} {
		if step.delete {
			if err := mem.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if step.record != nil {
			if err := mem.Save(ctx, id, step.record, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(step.after)
		copies := counted.copies
		s, err := m.Load(ctx, cookieRequest(cookies))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if s.Rejected != step.reject || (step.reject == "" && (s.ID != id || string(s.Data) != step.want)) {
			t.Fatalf("%s: session %s %s (rejected %q), want %s (rejected %q)", step.name, s.ID, s.Data, s.Rejected, step.want, step.reject)
		}
		if copied := counted.copies > copies; revisions && copied != step.copied {
			t.Errorf("%s: the store gave the record: %v, want %v", step.name, copied, step.copied)
		}
		if step.reject == "" {
			s.Data = []byte(`{"x":1}`) // setting a session's data leaves the memo as it was
		}
	}
}

// With TrustStore the Manager reads the store's records as its own, as
// it reads a secure cookie it sealed: its own record, and one of another
// layout, load as they do without it; a record it could not have written
// (data that is not JSON, before bookkeeping laid out as the proxy lays
// it out) is not validated, where without TrustStore it is refused. So
// a store that other programs write, such as a Redis shared with a Koa
// app, must not be trusted (cmd's newStore trusts the memory store only).
func TestTrustStore(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprintf("trust=%v", trust), func(t *testing.T) {
			ctx := t.Context()
			now := time.Now()
			mem := NewMemoryStore(MemoryOptions{})
			m := newManager(t, Options{Store: mem, TrustStore: trust, Now: func() time.Time { return now }})
			_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))
			_, s := loadExisting(t, m, cookies)
			id := s.ID
			expire := now.Add(time.Hour).UnixMilli()
			for _, step := range []struct {
				name   string
				record string // saved under id first, by another replica or program
				want   string // the session's data; "" for a rejected one
			}{
				{name: "written by the proxy", want: `{"user":"john"}`},
				{name: "bookkeeping first", record: fmt.Sprintf(`{"_expire":%d,"_maxAge":86400000,"user":"jane"}`, expire), want: `{"user":"jane"}`},
				{name: "koa-session's layout", record: fmt.Sprintf(`{"user":"joe","_expire":%d,"_maxAge":86400000}`, expire), want: `{"user":"joe"}`},
				{name: "not JSON, the proxy's layout", record: fmt.Sprintf(`{"user":nope,"_expire":%d,"_maxAge":86400000}`, expire)},
				{name: "not JSON at all", record: `{"user":`},
			} {
				if step.record != "" {
					if err := mem.Save(ctx, id, []byte(step.record), time.Hour); err != nil {
						t.Fatal(err)
					}
				}
				s, err := m.Load(ctx, cookieRequest(cookies))
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				want, reject := step.want, ""
				if want == "" {
					reject = RejectMalformed
				}
				if step.name == "not JSON, the proxy's layout" && trust {
					want, reject = `{"user":nope}`, "" // taken as the proxy's own: not validated
				}
				if s.Rejected != reject || (reject == "" && string(s.Data) != want) {
					t.Errorf("%s: session %s (rejected %q), want %s (rejected %q)", step.name, s.Data, s.Rejected, want, reject)
				}
			}
		})
	}
}

// A write to a RevisionStore remembers the revision it wrote with the
// record, so that the session's next request finds the record unchanged
// without a copy: on a site where each request writes, every read after
// a write would otherwise copy and compare the record again.
func TestStoreWriteKeepsItsRevision(t *testing.T) {
	store := &countingRevisions{MemoryStore: NewMemoryStore(MemoryOptions{})}
	m, cookies := rememberedSession(t, store, `{"n":1}`)
	for n := 2; n <= 4; n++ {
		roundTrip(t, m, cookies, set(fmt.Sprintf(`{"n":%d}`, n)))
		copies := store.copies
		_, s := loadExisting(t, m, cookies)
		if want := fmt.Sprintf(`{"n":%d}`, n); string(s.Data) != want {
			t.Fatalf("after write %d: %s, want %s", n, s.Data, want)
		}
		if store.copies != copies {
			t.Errorf("after write %d the load copied the record it wrote", n)
		}
	}
}

// A store that answers a remembered session with an empty record (a
// plain Store, not a RevisionStore saying "unchanged") gives a malformed
// session, not the record remembered.
func TestStoreEmptyRecordIsNotUnchanged(t *testing.T) {
	store := &emptyRecords{Store: NewMemoryStore(MemoryOptions{})}
	m, cookies := rememberedSession(t, store, `{"n":1}`)
	store.empty = true
	s, err := m.Load(t.Context(), cookieRequest(cookies))
	if err != nil {
		t.Fatal(err)
	}
	if s.Rejected != RejectMalformed {
		t.Fatalf("an empty record gave %s (rejected %q), want it rejected as malformed", s.Data, s.Rejected)
	}
}

// emptyRecords is a plain Store that, once empty is set, has an empty
// record for every id.
type emptyRecords struct {
	Store
	empty bool
}

func (s *emptyRecords) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if s.empty {
		return nil, true, nil
	}
	return s.Store.Load(ctx, id)
}

// A load that starts after a write has finished sees that write, though
// the write came through another Manager on the same store (a reloaded
// configuration's, or the admin API's) and this one's verified cache
// remembers the record its concurrent loads parsed: with and without
// revisions.
func TestStoreReadsFollowWrites(t *testing.T) {
	for _, revisions := range []bool{true, false} {
		t.Run(fmt.Sprintf("revisions=%v", revisions), func(t *testing.T) {
			var store Store = NewMemoryStore(MemoryOptions{})
			if !revisions {
				store = plainStore{store}
			}
			m := newManager(t, Options{Store: store})
			writer := newManager(t, Options{Store: store})
			_, cookies := roundTrip(t, writer, nil, set(`{"n":0}`))
			load := func() (int, error) {
				s, err := m.Load(context.Background(), cookieRequest(cookies))
				if err != nil {
					return 0, err
				}
				var n int
				if _, err := fmt.Sscanf(string(s.Data), `{"n":%d}`, &n); err != nil {
					return 0, fmt.Errorf("session %s (rejected %q): %w", s.Data, s.Rejected, err)
				}
				return n, nil
			}
			var written atomic.Int64 // the last write that has finished
			stop := make(chan struct{})
			errs := make(chan error, 4)
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						least := written.Load()
						n, err := load()
						if err == nil && int64(n) < least {
							err = fmt.Errorf("a load after write %d saw %d", least, n)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			for i := 1; i <= 300; i++ {
				roundTrip(t, writer, cookies, set(fmt.Sprintf(`{"n":%d}`, i)))
				written.Store(int64(i))
			}
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// countingRevisions is a MemoryStore that counts the records it copies
// out for LoadRevision.
type countingRevisions struct {
	*MemoryStore
	copies int
}

func (s *countingRevisions) LoadRevision(ctx context.Context, id string, have uint64) ([]byte, uint64, bool, error) {
	rec, rev, ok, err := s.MemoryStore.LoadRevision(ctx, id, have)
	if rec != nil {
		s.copies++
	}
	return rec, rev, ok, err
}

// plainStore hides a store's revisions: a Store and nothing more.
type plainStore struct{ Store }

// lastRecorder is a store that remembers the last record each Update was
// given.
type lastRecorder struct {
	Store
	last [][]byte
}

func (s *lastRecorder) Update(ctx context.Context, id string, last []byte, fn UpdateFunc) error {
	s.last = append(s.last, last)
	return s.Store.Update(ctx, id, last, fn)
}

// With a store, a write sends the client's cookie back as it came when it
// still names the session under the first key: nothing new to encrypt.
// A new id, or a cookie an older key made, gets a new value.
func TestStoreWriteKeepsTheCookieValue(t *testing.T) {
	const oldKey = "an-older-key-0123456789abcdef0123456789"
	mem := NewMemoryStore(MemoryOptions{})
	old := newManager(t, Options{Keys: []string{oldKey}, Store: mem})
	m := newManager(t, Options{Keys: []string{key1, oldKey}, Store: mem, Rolling: true})

	_, cookies := roundTrip(t, m, nil, set(`{"n":1}`))
	value := cookies[0].Value
	s, again := roundTrip(t, m, cookies, set(`{"n":2}`))
	if len(again) != 1 || again[0].Value != value || again[0].Expires.IsZero() {
		t.Fatalf("a write to session %s set %v; want its cookie %q again, with a new expiry", s.ID, again, value)
	}
	if s, _ := roundTrip(t, m, again, Change{}); string(s.Data) != `{"n":2}` {
		t.Fatalf("the cookie sent again loads %s", s.Data)
	}
	if _, rolled := roundTrip(t, m, cookies, Change{}); len(rolled) != 1 || rolled[0].Value != value {
		t.Errorf("rolling set %v; want the same value", rolled)
	}

	_, renewed := roundTrip(t, m, cookies, Change{Renew: true})
	if len(renewed) != 1 || renewed[0].Value == value {
		t.Fatalf("a renew set %v; want a new value", renewed)
	}

	// A cookie the older key made is accepted, and replaced by one under
	// the first key.
	_, oldCookies := roundTrip(t, old, nil, set(`{"n":3}`))
	s, reissued := roundTrip(t, m, oldCookies, set(`{"n":4}`))
	if len(reissued) != 1 || reissued[0].Value == oldCookies[0].Value {
		t.Fatalf("a write to a session under the older key set %v; want a new value", reissued)
	}
	onlyFirst := newManager(t, Options{Keys: []string{key1}, Store: mem})
	if got, _ := roundTrip(t, onlyFirst, reissued, Change{}); got.ID != s.ID || string(got.Data) != `{"n":4}` {
		t.Errorf("the re-issued cookie under the first key loads %+v", got)
	}
}

// A session whose record expired in the store is a new one: its write
// names no record as the one it read, and gets a cookie of its own.
func TestStoreExpiredSessionStartsOver(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	store := &lastRecorder{Store: NewMemoryStore(MemoryOptions{})}
	m := newManager(t, Options{Store: store, MaxAge: MaxAge(time.Minute), Now: func() time.Time { return now }})
	_, cookies := roundTrip(t, m, nil, set(`{"n":1}`))
	// Expired by the record's _expire, though the store still has it.
	now = now.Add(2 * time.Minute)
	s, again := roundTrip(t, m, cookies, set(`{"m":1}`))
	if s.Rejected != RejectExpired || len(again) != 1 || again[0].Value == cookies[0].Value {
		t.Fatalf("expired session: %+v, cookies %v; want a new session with a cookie of its own", s, again)
	}
	if last := store.last[len(store.last)-1]; last != nil {
		t.Errorf("the new session's write named %s as the record it read", last)
	}
	if got, _ := roundTrip(t, m, again, Change{}); string(got.Data) != `{"m":1}` {
		t.Errorf("the new session holds %s, want only what was set after the expiry", got.Data)
	}
}

// Two requests load the same stored session and set different keys: the
// second commit finds the record the first wrote and applies its patch
// on top, so both keys stay, and a patch that would overflow
// Options.MaxBytes on top of the newer record is refused there.
func TestOverlappingWritesKeepBoth(t *testing.T) {
	m := newManager(t, Options{Store: NewMemoryStore(MemoryOptions{}), MaxBytes: 64})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	r1, s1 := loadExisting(t, m, cookies)
	r2, s2 := loadExisting(t, m, cookies)
	r3, s3 := loadExisting(t, m, cookies)
	if _, err := m.Commit(t.Context(), r1, s1, set(`{"b":2}`), http.Header{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Commit(t.Context(), r2, s2, set(`{"c":3}`), http.Header{}); err != nil {
		t.Fatal(err)
	}
	// 40 bytes fit on {"a":1}, not on {"a":1,"b":2,"c":3}.
	if _, err := m.Commit(t.Context(), r3, s3, set(`{"d":"`+strings.Repeat("x", 40)+`"}`), http.Header{}); !errors.Is(err, ErrSessionTooLarge) {
		t.Errorf("a patch too large for the newer record: %v, want ErrSessionTooLarge", err)
	}
	_, s := loadExisting(t, m, cookies)
	if string(s.Data) != `{"a":1,"b":2,"c":3}` {
		t.Fatalf("after two overlapping writes: %s", s.Data)
	}
}

// A write through a remembered cookie leaves the record it wrote in the
// cookie's memo, so that the session's next request finds it parsed.
func TestStoreWriteUpdatesTheMemo(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	m := newManager(t, Options{Store: store})
	_, cookies := roundTrip(t, m, nil, set(`{"n":1}`))
	loadExisting(t, m, cookies)
	_, s := loadExisting(t, m, cookies) // seen twice: remembered
	roundTrip(t, m, cookies, set(`{"n":2}`))
	v, ok := lookup(&m.codec.(*secureCodec).seen, cookies[0].Value)
	p, parsed := v.parsed()
	if !ok || !parsed {
		t.Fatal("the cookie is not remembered")
	}
	stored, _, err := store.Load(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.stored, stored) || string(p.rec.data) != `{"n":2}` || p.id != s.ID {
		t.Fatalf("memo after the write: %s %q, the store holds %q", p.rec.data, p.stored, stored)
	}
	if _, s := loadExisting(t, m, cookies); string(s.Data) != `{"n":2}` {
		t.Fatalf("next load: %s", s.Data)
	}
}

// A session's own maxAge ("remember me") set by one request survives a
// request that loaded the session before it and writes after it: the
// later write goes on top of the record as it is, maxAge included, and
// its cookie gets that maxAge's expiry. Only a request that sets a
// maxAge itself changes it.
func TestOverlappingWriteKeepsMaxAge(t *testing.T) {
	const remember = MaxAge(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		maxAge MaxAge
	}{
		{"remember me", remember},
		{"browser session", Browser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			store := NewMemoryStore(MemoryOptions{})
			m := newManager(t, Options{Store: store, Now: c.now})
			_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
			slowReq, slow := loadExisting(t, m, cookies)
			if _, err := m.Commit(t.Context(), cookieRequest(cookies), mustLoad(t, m, cookies), Change{MaxAge: tc.maxAge}, http.Header{}); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			if _, err := m.Commit(t.Context(), slowReq, slow, set(`{"b":2}`), h); err != nil {
				t.Fatal(err)
			}
			_, s := loadExisting(t, m, cookies)
			if s.MaxAge != tc.maxAge || string(s.Data) != `{"a":1,"b":2}` {
				t.Errorf("after the overlapping write: maxAge %v, data %s; want %v", s.MaxAge, s.Data, tc.maxAge)
			}
			got := (&http.Response{Header: h}).Cookies()
			if len(got) != 1 {
				t.Fatalf("cookies %v", h["Set-Cookie"])
			}
			if want := expiry(tc.maxAge, c.t); !got[0].Expires.Equal(want) {
				t.Errorf("the overlapping write's cookie expires %v, want %v", got[0].Expires, want)
			}
		})
	}
}

func mustLoad(t *testing.T, m *Manager, cookies []*http.Cookie) *Session {
	t.Helper()
	_, s := loadExisting(t, m, cookies)
	return s
}

// An idle-timeout touch that loaded the session before another request
// saved it (and so gave it a fresh expiry, as every koa save does) keeps
// that newer expiry: the touch only records the session's use, and must
// not put back the expiry it loaded, which would end the session in the
// store long before the cookie the browser holds says.
func TestOverlappingTouchKeepsNewerExpiry(t *testing.T) {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := NewMemoryStore(MemoryOptions{})
	m := newManager(t, Options{Store: store, Now: c.now, IdleTimeout: time.Hour})
	_, cookies := roundTrip(t, m, nil, set(`{"a":1}`))
	c.t = c.t.Add(10 * time.Minute) // past a tenth of the idle timeout: a touch is due
	slowReq, slow := loadExisting(t, m, cookies)
	if _, err := m.Commit(t.Context(), cookieRequest(cookies), mustLoad(t, m, cookies), set(`{"b":2}`), http.Header{}); err != nil {
		t.Fatal(err)
	}
	want := c.t.Add(time.Duration(DefaultMaxAge))
	c.t = c.t.Add(time.Second)
	if out, err := m.Commit(t.Context(), slowReq, slow, Change{}, http.Header{}); err != nil || !out.Saved {
		t.Fatalf("touch: %+v, %v", out, err)
	}
	_, s := loadExisting(t, m, cookies)
	if !s.Expire.Equal(want) || string(s.Data) != `{"a":1,"b":2}` {
		t.Errorf("after the overlapping touch: expires %v, data %s; want %v (the newer save's)", s.Expire, s.Data, want)
	}
}
