package session

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// When many sessions expire together, one write drops a few of them, not
// all: the store's lock is not held for a mass expiry's length. The
// writes that follow drain the rest.
func TestMemoryStoreMassExpiry(t *testing.T) {
	ctx := t.Context()
	clock := &clock{time.Unix(1_800_000_000, 0)}
	const n = 2000
	s := NewMemoryStore(MemoryOptions{Now: clock.now})
	for i := range n {
		if err := s.Save(ctx, fmt.Sprint("old-", i), []byte(`{"n":1}`), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = clock.t.Add(2 * time.Minute) // every one of them has expired

	if err := s.Save(ctx, "new-0", []byte(`{"n":1}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if held, want := len(s.byExp), n+1-expiredPerWrite; held != want {
		t.Fatalf("after the first write the store holds %d entries, want %d: a write drops %d expired entries, no more, no fewer", held, want, expiredPerWrite)
	}
	// Each later write drops its share: the backlog is gone after
	// n/(expiredPerWrite-1) more writes, each adding one.
	writes := 1
	for ; len(s.byExp) > writes && writes < n; writes++ {
		if err := s.Save(ctx, fmt.Sprint("new-", writes), []byte(`{"n":1}`), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if most := 1 + (n+expiredPerWrite-2)/(expiredPerWrite-1); writes > most {
		t.Errorf("the expired entries took %d writes to go, want at most %d", writes, most)
	}
	if got := s.Len(); got != writes {
		t.Errorf("Len = %d, want the %d sessions written since", got, writes)
	}
}

// A write that needs more room than the few expired entries it drops
// anyway takes it from the other expired entries before any live one,
// even where the live ones are the least recently used.
func TestMemoryStoreBoundTakesExpiredFirst(t *testing.T) {
	ctx := t.Context()
	clock := &clock{time.Unix(1_800_000_000, 0)}
	record := bytes.Repeat([]byte("x"), 100)
	entry := int64(len("live-0")+len(record)) + MemoryEntryOverhead
	const live, short = 10, 40
	s := NewMemoryStore(MemoryOptions{MaxBytes: (live + short + 1) * entry, Now: clock.now})
	for i := range live { // saved once, never read: first in line for eviction
		if err := s.Save(ctx, fmt.Sprint("live-", i), record, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := range short { // read again, so protected, but soon expired
		id := fmt.Sprint("shrt-", i)
		if err := s.Save(ctx, id, record, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Load(ctx, id); !ok {
			t.Fatalf("Load(%s) right after its Save: not found", id)
		}
	}
	clock.t = clock.t.Add(2 * time.Second)

	// A record as large as 30 entries: room the write's own share of
	// expired entries does not make.
	big := bytes.Repeat([]byte("y"), int(30*entry-MemoryEntryOverhead)-len("big"))
	if err := s.Save(ctx, "big", big, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range live {
		if _, ok, _ := s.Load(ctx, fmt.Sprint("live-", i)); !ok {
			t.Errorf("live-%d was evicted while expired entries could go", i)
		}
	}
	if _, ok, _ := s.Load(ctx, "big"); !ok {
		t.Error("the large record is not there")
	}
}
