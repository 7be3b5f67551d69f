// Package sessiontest holds the conformance test that every session.Store
// passes: the Store interface's doc comments, as executable checks.
package sessiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// TestStore checks that the stores newStore returns keep the session.Store
// contract: missing is not an error, records round-trip, Delete is
// idempotent, entries expire after their ttl, Update loses no concurrent
// update and writes nothing when its function fails, and a cancelled
// context fails an operation. newStore is called once per subtest and may
// return stores that share a backend; ids never repeat across subtests.
//
// The expiry checks use real time with short ttls and wait for the entry
// to go (bounded, never asserting how fast); stores with a clock of their
// own test expiry further with testing/synctest.
func TestStore(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Helper()
	const long = time.Hour

	t.Run("missing is not an error", func(t *testing.T) {
		s := newStore(t)
		rec, ok, err := s.Load(t.Context(), newID())
		if err != nil || ok || rec != nil {
			t.Fatalf("Load(missing) = %q, %v, %v; want nil, false, nil", rec, ok, err)
		}
	})

	t.Run("save then load", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		want := []byte(`{"user":{"name":"john doe","age":30},"_expire":1,"_maxAge":2}`)
		mustSave(t, s, id, want, long)
		if got := mustLoad(t, s, id); string(got) != string(want) {
			t.Fatalf("Load = %q, want %q", got, want)
		}
		want2 := []byte(`{"n":2}`)
		mustSave(t, s, id, want2, long)
		if got := mustLoad(t, s, id); string(got) != string(want2) {
			t.Fatalf("Load after a second Save = %q, want %q (Save replaces)", got, want2)
		}
	})

	t.Run("ids are separate", func(t *testing.T) {
		s := newStore(t)
		a, b := newID(), newID()
		mustSave(t, s, a, []byte(`{"who":"a"}`), long)
		mustSave(t, s, b, []byte(`{"who":"b"}`), long)
		if err := s.Delete(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		if got := mustLoad(t, s, b); string(got) != `{"who":"b"}` {
			t.Fatalf("Load(b) after Delete(a) = %q", got)
		}
	})

	t.Run("stored bytes are not aliased", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		rec := []byte(`{"n":1}`)
		mustSave(t, s, id, rec, long)
		rec[5] = '9'
		got := mustLoad(t, s, id)
		if string(got) != `{"n":1}` {
			t.Fatalf("changing the saved slice changed the store: %q", got)
		}
		got[5] = '8'
		if got := mustLoad(t, s, id); string(got) != `{"n":1}` {
			t.Fatalf("changing a loaded slice changed the store: %q", got)
		}
	})

	t.Run("delete is idempotent", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		mustSave(t, s, id, []byte(`{}`), long)
		for i := range 2 {
			if err := s.Delete(t.Context(), id); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if _, ok, err := s.Load(t.Context(), id); ok || err != nil {
			t.Fatalf("Load after Delete: ok %v, err %v; want missing", ok, err)
		}
		if err := s.Delete(t.Context(), newID()); err != nil {
			t.Fatalf("Delete(never saved): %v", err)
		}
	})

	t.Run("entries expire after their ttl", func(t *testing.T) {
		s := newStore(t)
		short, kept, updated := newID(), newID(), newID()
		mustSave(t, s, kept, []byte(`{}`), long)
		mustSave(t, s, short, []byte(`{}`), 100*time.Millisecond)
		err := s.Update(t.Context(), updated, nil, func([]byte, bool) ([]byte, time.Duration, error) {
			return []byte(`{}`), 100 * time.Millisecond, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, s, short)
		waitGone(t, s, updated)
		if _, ok, err := s.Load(t.Context(), kept); !ok || err != nil {
			t.Fatalf("an entry with a long ttl went too: ok %v, err %v", ok, err)
		}
	})

	// last is only a guess: whatever it says, fn's result is written over
	// the record that is really there, and a guess that is right gives
	// the same result.
	t.Run("update with a last record", func(t *testing.T) {
		cases := []struct {
			name   string
			stored string // "" for none
			last   string
		}{
			{"right", `{"n":1}`, `{"n":1}`},
			{"stale", `{"n":2}`, `{"n":1}`},
			{"gone", "", `{"n":1}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				id := newID()
				if tc.stored != "" {
					mustSave(t, s, id, []byte(tc.stored), long)
				}
				err := s.Update(t.Context(), id, []byte(tc.last), func(rec []byte, ok bool) ([]byte, time.Duration, error) {
					if !ok {
						return []byte(`{"seen":"none"}`), long, nil
					}
					return fmt.Appendf(nil, `{"seen":%s}`, rec), long, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := `{"seen":"none"}`
				if tc.stored != "" {
					want = `{"seen":` + tc.stored + `}`
				}
				if got := mustLoad(t, s, id); string(got) != want {
					t.Errorf("after Update with last %s over %q: %s, want %s", tc.last, tc.stored, got, want)
				}
			})
		}
	})

	t.Run("update sees the current record", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		var seen []string
		add := func(rec []byte, ok bool) ([]byte, time.Duration, error) {
			seen = append(seen, fmt.Sprintf("%s/%v", rec, ok))
			return []byte(`{"n":1}`), long, nil
		}
		for range 2 {
			if err := s.Update(t.Context(), id, nil, add); err != nil {
				t.Fatal(err)
			}
		}
		if want := []string{"/false", `{"n":1}/true`}; fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("Update's fn saw %q, want %q", seen, want)
		}
	})

	t.Run("concurrent updates are all kept", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		mustSave(t, s, id, []byte(`{"seed":true}`), long)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- s.Update(t.Context(), id, nil, func(rec []byte, ok bool) ([]byte, time.Duration, error) {
					m := map[string]any{}
					if ok {
						if err := json.Unmarshal(rec, &m); err != nil {
							return nil, 0, err
						}
					}
					m[fmt.Sprintf("k%d", i)] = i
					b, err := json.Marshal(m)
					return b, long, err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(mustLoad(t, s, id), &m); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, ok := m[fmt.Sprintf("k%d", i)]; !ok {
				t.Errorf("key k%d was lost", i)
			}
		}
		if m["seed"] != true || len(m) != n+1 {
			t.Errorf("record has %d members, want %d: %v", len(m), n+1, m)
		}
	})

	t.Run("failed update writes nothing", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		fail := func([]byte, bool) ([]byte, time.Duration, error) { return []byte(`{"bad":1}`), long, boom }
		existing, missing := newID(), newID()
		mustSave(t, s, existing, []byte(`{"n":1}`), long)
		for _, id := range []string{existing, missing} {
			if err := s.Update(t.Context(), id, nil, fail); !errors.Is(err, boom) {
				t.Fatalf("Update = %v, want the fn's error", err)
			}
		}
		if got := mustLoad(t, s, existing); string(got) != `{"n":1}` {
			t.Errorf("a failed Update changed the record to %q", got)
		}
		if _, ok, err := s.Load(t.Context(), missing); ok || err != nil {
			t.Errorf("a failed Update created a record: ok %v, err %v", ok, err)
		}
	})

	t.Run("cancelled context fails", func(t *testing.T) {
		s := newStore(t)
		id := newID()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, ok, err := s.Load(ctx, id); err == nil {
			t.Errorf("Load with a cancelled context: ok %v, no error", ok)
		}
		if err := s.Save(ctx, id, []byte(`{}`), long); err == nil {
			t.Error("Save with a cancelled context: no error")
		}
		called := false
		err := s.Update(ctx, id, nil, func([]byte, bool) ([]byte, time.Duration, error) {
			called = true
			return []byte(`{}`), long, nil
		})
		if err == nil {
			t.Errorf("Update with a cancelled context: no error (fn called: %v)", called)
		}
		if err := s.Delete(ctx, id); err == nil {
			t.Error("Delete with a cancelled context: no error")
		}
		if _, ok, err := s.Load(t.Context(), id); ok || err != nil {
			t.Errorf("a cancelled Save or Update wrote: ok %v, err %v", ok, err)
		}
	})
}

func newID() string { return session.NewID() }

func mustSave(t *testing.T, s session.Store, id string, rec []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Save(t.Context(), id, rec, ttl); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustLoad(t *testing.T, s session.Store, id string) []byte {
	t.Helper()
	rec, ok, err := s.Load(t.Context(), id)
	if err != nil || !ok {
		t.Fatalf("Load: ok %v, err %v; want the saved record", ok, err)
	}
	return rec
}

// waitGone waits, for a bounded time, until id is missing.
func waitGone(t *testing.T, s session.Store, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		_, ok, err := s.Load(t.Context(), id)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("an entry with a 100ms ttl was still there after 10s")
		}
	}
}

// IndexStore is a Store that is also a session.UserIndex.
type IndexStore interface {
	session.Store
	session.UserIndex
}

// TestUserIndex checks that the stores newStore returns keep the
// session.UserIndex contract: sessions are listed under their user with
// their records, a listed session the store does not hold comes with a
// nil record (it may be written later, and End must reach it), RemoveUser
// takes one off, listings expire, and End leaves its record whatever was
// there.
func TestUserIndex(t *testing.T, newStore func(t *testing.T) IndexStore) {
	t.Helper()
	listed := func(t *testing.T, s IndexStore, user string) map[string]string {
		t.Helper()
		list, err := s.UserSessions(t.Context(), user)
		if err != nil {
			t.Fatalf("UserSessions: %v", err)
		}
		out := map[string]string{}
		for _, l := range list {
			out[l.Ref] = string(l.Record)
		}
		return out
	}
	t.Run("list, remove, end", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		user, other := newID(), newID()
		a, b, c := newID(), newID(), newID()
		mustSave(t, s, a, []byte(`{"n":"a"}`), time.Hour)
		mustSave(t, s, c, []byte(`{"n":"c"}`), time.Hour)
		for _, id := range []string{a, b} {
			if err := s.AddUser(ctx, user, id, time.Hour); err != nil {
				t.Fatalf("AddUser: %v", err)
			}
		}
		if err := s.AddUser(ctx, other, c, time.Hour); err != nil {
			t.Fatal(err)
		}
		got := listed(t, s, user)
		if len(got) != 2 || got[s.Ref(a)] != `{"n":"a"}` {
			t.Fatalf("listed %v, want a with its record and b", got)
		}
		if rec, ok := got[s.Ref(b)]; !ok || rec != "" {
			t.Errorf("b (listed, not stored) came back as %q, %v; want listed with no record", rec, ok)
		}
		if err := s.End(ctx, s.Ref(b), []byte(`{"_ended":true}`), time.Hour); err != nil {
			t.Fatalf("End: %v", err)
		}
		if rec := mustLoad(t, s, b); string(rec) != `{"_ended":true}` {
			t.Errorf("after End, b holds %q", rec)
		}
		if err := s.RemoveUser(ctx, user, a); err != nil {
			t.Fatalf("RemoveUser: %v", err)
		}
		if got := listed(t, s, user); len(got) != 1 || got[s.Ref(b)] != `{"_ended":true}` {
			t.Errorf("after RemoveUser(a): %v, want only b", got)
		}
		if got := listed(t, s, other); len(got) != 1 {
			t.Errorf("the other user lists %v, want c", got)
		}
	})
	t.Run("listings expire", func(t *testing.T) {
		s := newStore(t)
		user, id := newID(), newID()
		if err := s.AddUser(t.Context(), user, id, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); len(listed(t, s, user)) != 0; time.Sleep(25 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("a listing with a 100ms ttl was still there after 10s")
			}
		}
	})
}
