package session

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// DefaultMaxEntries is a MemoryStore's default bound.
const DefaultMaxEntries = 100_000

// MemoryOptions configures a MemoryStore. Zero fields take the defaults.
type MemoryOptions struct {
	// MaxEntries bounds the number of sessions kept. When a save would
	// exceed it, the session closest to expiring is dropped first (with
	// one maxAge for everybody, that is the least recently saved).
	// Default DefaultMaxEntries.
	MaxEntries int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// MemoryStore is a Store in the proxy's own memory: bounded, expiring,
// safe for concurrent use, for a single replica. It starts no goroutine:
// expired entries are dropped as they are met and on every write, so it
// needs no Close. Create it with NewMemoryStore.
type MemoryStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*memEntry
	byExp   expiryHeap // every entry, soonest expiry first
	gen     uint64     // bumped on every write, for Update's check
}

var _ Store = (*MemoryStore)(nil)

type memEntry struct {
	id     string
	record []byte
	expire time.Time
	gen    uint64
	index  int // in byExp
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &MemoryStore{max: o.MaxEntries, now: o.Now, entries: map[string]*memEntry{}}
}

// Load returns a copy of the record saved under id.
func (s *MemoryStore) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(id)
	if e == nil {
		return nil, false, nil
	}
	return clone(e.record), true, nil
}

// Save stores a copy of record under id for ttl.
func (s *MemoryStore) Save(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(id, clone(record), ttl)
	return nil
}

// Delete removes id.
func (s *MemoryStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[id]; ok {
		s.remove(e)
	}
	return nil
}

// Update replaces the record under id with what fn returns. fn runs
// without the store locked; if another write to id happened meanwhile,
// fn runs again on the newer record (optimistic concurrency). Reading is
// cheap here, so last is not used.
func (s *MemoryStore) Update(ctx context.Context, id string, _ []byte, fn UpdateFunc) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		var cur []byte
		var gen uint64 // 0: missing
		if e := s.live(id); e != nil {
			cur, gen = clone(e.record), e.gen
		}
		s.mu.Unlock()

		next, ttl, err := fn(cur, gen != 0)
		if err != nil {
			return err
		}

		s.mu.Lock()
		var now uint64
		if e := s.live(id); e != nil {
			now = e.gen
		}
		if now == gen {
			s.put(id, clone(next), ttl)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock() // lost a race: run fn again on the newer record
	}
}

// Len returns the number of sessions held (expired ones excluded).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired()
	return len(s.entries)
}

// Ping reports whether the store can answer, for readiness checks: a
// MemoryStore always can.
func (s *MemoryStore) Ping(ctx context.Context) error { return ctx.Err() }

// live returns id's entry, dropping it if it has expired. s.mu is held.
func (s *MemoryStore) live(id string) *memEntry {
	e, ok := s.entries[id]
	if !ok {
		return nil
	}
	if !s.now().Before(e.expire) {
		s.remove(e)
		return nil
	}
	return e
}

// put stores record under id, then restores the bound. s.mu is held.
func (s *MemoryStore) put(id string, record []byte, ttl time.Duration) {
	s.gen++
	expire := s.now().Add(ttl)
	if e, ok := s.entries[id]; ok {
		e.record, e.expire, e.gen = record, expire, s.gen
		heap.Fix(&s.byExp, e.index)
	} else {
		e := &memEntry{id: id, record: record, expire: expire, gen: s.gen}
		s.entries[id] = e
		heap.Push(&s.byExp, e)
	}
	s.dropExpired()
	for len(s.entries) > s.max {
		s.remove(s.byExp[0])
	}
}

// dropExpired removes every expired entry. s.mu is held.
func (s *MemoryStore) dropExpired() {
	now := s.now()
	for len(s.byExp) > 0 && !now.Before(s.byExp[0].expire) {
		s.remove(s.byExp[0])
	}
}

func (s *MemoryStore) remove(e *memEntry) {
	heap.Remove(&s.byExp, e.index)
	delete(s.entries, e.id)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// expiryHeap orders entries by expiry, soonest first (container/heap).
type expiryHeap []*memEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expire.Before(h[j].expire) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
