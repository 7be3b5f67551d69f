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

// After most sessions expire, the memory the store holds follows the
// ones left, even when they are spread over every page of the slab: the
// pages left sparse are emptied into the others and given back. Every
// session left still loads as it was saved, through its moved cell.
func TestMemoryStoreShrinksAfterExpiry(t *testing.T) {
	ctx := t.Context()
	clock := &clock{time.Unix(1_800_000_000, 0)}
	const n, every = 20_000, 10 // one session in ten lives on
	s := NewMemoryStore(MemoryOptions{MaxEntries: n, Now: clock.now})
	record := func(i int) []byte { return fmt.Appendf(nil, `{"user":%d,"pad":"%0200d"}`, i, i) }
	for i := range n {
		ttl := time.Minute
		if i%every == 0 {
			ttl = time.Hour
		}
		if err := s.Save(ctx, fmt.Sprint("id-", i), record(i), ttl); err != nil {
			t.Fatal(err)
		}
	}
	full := s.pageBytes()
	clock.t = clock.t.Add(2 * time.Minute)
	if got := s.Len(); got != n/every {
		t.Fatalf("Len = %d after the expiry, want %d", got, n/every)
	}
	// Pages more than half live, but for a spare and one left over.
	if held, most := s.pageBytes(), 2*full/every+2*slabPageSize; held > most {
		t.Errorf("%d of %d sessions left hold %d KiB of pages, want at most %d (%d KiB before the expiry)", n/every, n, held>>10, most>>10, full>>10)
	} else {
		t.Logf("%d of %d sessions left hold %d KiB of pages, %d KiB before the expiry", n/every, n, held>>10, full>>10)
	}
	for i := 0; i < n; i += every {
		got, ok, err := s.Load(ctx, fmt.Sprint("id-", i))
		if err != nil || !ok || !bytes.Equal(got, record(i)) {
			t.Fatalf("Load(id-%d) = %q, %v, %v after the expiry; want %q", i, got, ok, err, record(i))
		}
	}
}

// pageBytes returns the bytes of the slab's pages the store holds.
func (s *MemoryStore) pageBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.data.classes {
		for _, pg := range s.data.classes[c].pages {
			n += len(pg.buf)
		}
	}
	return n
}
