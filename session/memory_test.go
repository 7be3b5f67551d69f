package session_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
	"github.com/sessionproxy/sessionproxy/session/sessiontest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	sessiontest.TestStore(t, func(t *testing.T) session.Store {
		return session.NewMemoryStore(session.MemoryOptions{})
	})
}

func TestMemoryStoreExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := session.NewMemoryStore(session.MemoryOptions{})
		ctx := t.Context()
		if err := s.Save(ctx, "a", []byte(`{}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, "b", []byte(`{}`), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute - time.Nanosecond)
		if _, ok, _ := s.Load(ctx, "a"); !ok {
			t.Fatal("entry gone before its ttl")
		}
		time.Sleep(time.Nanosecond)
		if _, ok, _ := s.Load(ctx, "a"); ok {
			t.Fatal("entry still there at its ttl")
		}
		if n := s.Len(); n != 1 {
			t.Fatalf("Len = %d, want 1 (b)", n)
		}
		time.Sleep(time.Minute)
		if n := s.Len(); n != 0 {
			t.Fatalf("Len = %d after every ttl passed, want 0", n)
		}
	})
}

func TestMemoryStoreBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := session.NewMemoryStore(session.MemoryOptions{MaxEntries: 3})
		for i := range 3 {
			if err := s.Save(ctx, fmt.Sprint(i), []byte(`{}`), time.Hour); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		// Saving 0 again makes 1 the least recently used.
		if err := s.Save(ctx, "0", []byte(`{"again":1}`), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, "3", []byte(`{}`), time.Hour); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n != 3 {
			t.Fatalf("Len = %d, want the bound 3", n)
		}
		if n := s.Evicted(); n != 1 {
			t.Errorf("Evicted = %d, want 1 (the fourth session's room)", n)
		}
		for id, want := range map[string]bool{"0": true, "1": false, "2": true, "3": true} {
			if _, ok, _ := s.Load(ctx, id); ok != want {
				t.Errorf("Load(%s): ok %v, want %v", id, ok, want)
			}
		}
	})
}

// A full store makes room from expired entries before live ones.
func TestMemoryStoreEvictsExpiredFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := session.NewMemoryStore(session.MemoryOptions{MaxEntries: 2})
		_ = s.Save(ctx, "long", []byte(`{}`), time.Hour)
		_ = s.Save(ctx, "short", []byte(`{}`), time.Second)
		time.Sleep(2 * time.Second)
		_ = s.Save(ctx, "new", []byte(`{}`), time.Hour)
		if _, ok, _ := s.Load(ctx, "long"); !ok {
			t.Error("a live entry was evicted while an expired one could go")
		}
		if n := s.Evicted(); n != 0 {
			t.Errorf("Evicted = %d, want 0: an expired entry is not an eviction", n)
		}
	})
}

func TestMemoryStoreUserIndexConformance(t *testing.T) {
	t.Parallel()
	sessiontest.TestUserIndex(t, func(t *testing.T) sessiontest.IndexStore {
		return session.NewMemoryStore(session.MemoryOptions{})
	})
}

// A flood of new sessions (one client without cookies, or an attacker)
// must not push out a user who keeps coming back.
func TestMemoryStoreFloodKeepsActiveUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := session.NewMemoryStore(session.MemoryOptions{MaxEntries: 100})
		for _, id := range []string{"alice", "bob"} {
			_ = s.Save(ctx, id, []byte(`{"user":"`+id+`"}`), time.Hour)
		}
		for i := range 10_000 {
			if i%1000 == 0 { // the users come back now and then
				for _, id := range []string{"alice", "bob"} {
					if _, ok, _ := s.Load(ctx, id); !ok {
						t.Fatalf("%s was evicted after %d new sessions", id, i)
					}
				}
			}
			_ = s.Save(ctx, fmt.Sprint("flood", i), []byte(`{}`), time.Hour)
			time.Sleep(time.Millisecond)
		}
		if n := s.Len(); n != 100 {
			t.Errorf("Len = %d, want the bound 100", n)
		}
		for _, id := range []string{"alice", "bob"} {
			if _, ok, _ := s.Load(ctx, id); !ok {
				t.Errorf("%s was evicted by the flood", id)
			}
		}
	})
}

func TestMemoryStoreMaxBytes(t *testing.T) {
	ctx := t.Context()
	big := make([]byte, 1000)
	for i := range big {
		big[i] = 'x'
	}
	s := session.NewMemoryStore(session.MemoryOptions{MaxBytes: 10 * (1000 + session.MemoryEntryOverhead + 2)})
	for i := range 50 {
		_ = s.Save(ctx, fmt.Sprintf("%02d", i), big, time.Hour)
	}
	if n := s.Len(); n != 10 {
		t.Errorf("Len = %d, want 10 entries of about 1 KB in a 10 KB store", n)
	}
	if n := s.Evicted(); n != 40 {
		t.Errorf("Evicted = %d, want 40", n)
	}
	if _, ok, _ := s.Load(ctx, "49"); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok, _ := s.Load(ctx, "00"); ok {
		t.Error("the oldest entry is still there")
	}
}

// LoadRevision gives a record with its revision, and no copy while the
// caller's revision is still the stored record's: not once another write,
// a deletion, an expiry or another session in the same slot has replaced
// it. A load by revision is a use, as Load is.
func TestMemoryStoreLoadRevision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := session.NewMemoryStore(session.MemoryOptions{MaxEntries: 2})
		save := func(id, rec string, ttl time.Duration) {
			t.Helper()
			if err := s.Save(ctx, id, []byte(rec), ttl); err != nil {
				t.Fatal(err)
			}
		}
		load := func(id string, have uint64, wantRec string, wantOK bool) uint64 {
			t.Helper()
			rec, rev, ok, err := s.LoadRevision(ctx, id, have)
			if err != nil || ok != wantOK || string(rec) != wantRec || ok && rev == 0 {
				t.Fatalf("LoadRevision(%s, %d) = %q, %d, %v, %v; want %q, ok %v", id, have, rec, rev, ok, err, wantRec, wantOK)
			}
			return rev
		}

		save("a", `{"n":1}`, time.Hour)
		r1 := load("a", 0, `{"n":1}`, true)
		if r := load("a", r1, "", true); r != r1 {
			t.Fatalf("unchanged record: revision %d, want %d", r, r1)
		}
		save("a", `{"n":1}`, time.Hour) // the same bytes, written again
		r2 := load("a", r1, `{"n":1}`, true)
		if r2 == r1 {
			t.Fatal("a write kept the revision")
		}
		load("b", r2, "", false) // another id, with a revision of a

		// An update tells the revision it wrote; a refused one, none.
		ru, err := s.UpdateRevision(ctx, "a", nil, func(cur []byte, ok bool) ([]byte, time.Duration, error) {
			return []byte(`{"n":2}`), time.Hour, nil
		})
		if err != nil || ru == 0 || ru == r2 {
			t.Fatalf("UpdateRevision = %d, %v; want a new revision", ru, err)
		}
		load("a", ru, "", true)
		refused := errors.New("refused")
		if rev, err := s.UpdateRevision(ctx, "a", nil, func([]byte, bool) ([]byte, time.Duration, error) {
			return nil, 0, refused
		}); rev != 0 || err != refused {
			t.Fatalf("a refused UpdateRevision = %d, %v; want 0 and fn's error", rev, err)
		}
		r2 = load("a", ru, "", true)

		// A deletion, and then another session in the freed slot.
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		load("a", r2, "", false)
		save("c", `{"c":1}`, time.Hour)
		load("a", r2, "", false)
		load("c", r2, `{"c":1}`, true)

		// Expiry, with the caller's revision still current.
		save("d", `{"d":1}`, time.Minute)
		rd := load("d", 0, `{"d":1}`, true)
		time.Sleep(time.Minute)
		load("d", rd, "", false)

		// A load by revision is a use. x and y are both used, y last;
		// loading x by revision makes y the least recently used, so a
		// third session (the bound is 2) evicts y.
		if err := s.Delete(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		save("x", `{}`, time.Hour)
		save("y", `{}`, time.Hour)
		rx := load("x", 0, `{}`, true)
		load("y", 0, `{}`, true)
		load("x", rx, "", true)
		save("z", `{}`, time.Hour)
		if _, ok, _ := s.Load(ctx, "x"); !ok {
			t.Error("the session just loaded by revision was evicted")
		}
		if _, ok, _ := s.Load(ctx, "y"); ok {
			t.Error("the least recently used session was kept")
		}
	})
}
