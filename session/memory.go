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
	// MaxEntries bounds the number of sessions kept. Default
	// DefaultMaxEntries.
	MaxEntries int
	// MaxBytes bounds the memory the sessions take, counted as their ids
	// and records plus a fixed overhead per entry (MemoryEntryOverhead).
	// 0: no bound but MaxEntries.
	MaxBytes int64
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// MemoryEntryOverhead is what a MemoryStore counts for one entry towards
// MaxBytes beyond its id and record: the entry itself and its map slot.
const MemoryEntryOverhead = 160

// MemoryStore is a Store in the proxy's own memory: bounded, expiring,
// safe for concurrent use, for a single replica. It starts no goroutine:
// expired entries are dropped as they are met and on every write, so it
// needs no Close. Create it with NewMemoryStore.
//
// When a save would exceed a bound, expired entries go first, then the
// least recently used of the sessions that were never used again after
// their first save, and only then the least recently used of the others
// (a segmented LRU): a client that makes new sessions by the thousand
// pushes out its own one-time sessions, not the users who come back.
//
// It is also a UserIndex, for Options.UserKey.
type MemoryStore struct {
	max      int
	maxBytes int64
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*memEntry
	byExp   expiryHeap // every entry, soonest expiry first
	gen     uint64     // bumped on every write, for Update's check
	bytes   int64      // what the entries count towards maxBytes
	// probation holds the entries not used since their first save,
	// protected the ones used again, each most recently used first.
	probation, protected lru
	users                map[string]map[string]time.Time // user → id → listed until
}

var (
	_ Store     = (*MemoryStore)(nil)
	_ UserIndex = (*MemoryStore)(nil)
)

type memEntry struct {
	id         string
	record     []byte
	expire     time.Time
	gen        uint64
	index      int // in byExp
	prev, next *memEntry
	protected  bool // in protected rather than probation
}

func (e *memEntry) size() int64 { return int64(len(e.id) + len(e.record) + MemoryEntryOverhead) }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &MemoryStore{max: o.MaxEntries, maxBytes: o.MaxBytes, now: o.Now, entries: map[string]*memEntry{}, users: map[string]map[string]time.Time{}}
	s.probation.init()
	s.protected.init()
	return s
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
	s.used(e)
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

// put stores record under id, then restores the bounds. s.mu is held.
func (s *MemoryStore) put(id string, record []byte, ttl time.Duration) {
	s.gen++
	expire := s.now().Add(ttl)
	e, ok := s.entries[id]
	if ok {
		s.bytes -= e.size()
		e.record, e.expire, e.gen = record, expire, s.gen
		heap.Fix(&s.byExp, e.index)
		s.listOf(e).moveToFront(e)
	} else {
		e = &memEntry{id: id, record: record, expire: expire, gen: s.gen}
		s.entries[id] = e
		heap.Push(&s.byExp, e)
		s.probation.pushFront(e)
	}
	s.bytes += e.size()
	s.dropExpired()
	for len(s.entries) > 1 && (len(s.entries) > s.max || (s.maxBytes > 0 && s.bytes > s.maxBytes)) {
		victim := s.probation.back()
		if victim == nil || victim == e && s.protected.back() != nil {
			victim = s.protected.back()
		}
		s.remove(victim)
	}
}

// used records a use of e: a session used again is protected from the
// eviction of one-time sessions. The protected entries are kept to at
// most protectedShare of the bound, so that new sessions always have
// room. s.mu is held.
func (s *MemoryStore) used(e *memEntry) {
	if e.protected {
		s.protected.moveToFront(e)
		return
	}
	s.probation.remove(e)
	e.protected = true
	s.protected.pushFront(e)
	for s.protected.n > s.max*protectedShare/100 {
		d := s.protected.back()
		s.protected.remove(d)
		d.protected = false
		s.probation.pushFront(d)
	}
}

// protectedShare is the most of MaxEntries, in percent, that sessions
// used again may hold.
const protectedShare = 80

func (s *MemoryStore) listOf(e *memEntry) *lru {
	if e.protected {
		return &s.protected
	}
	return &s.probation
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
	s.listOf(e).remove(e)
	s.bytes -= e.size()
}

// lru is a list of entries, most recently used first, linked through
// the entries themselves.
type lru struct {
	root memEntry // root.next is the front, root.prev the back
	n    int
}

func (l *lru) init() { l.root.next, l.root.prev = &l.root, &l.root }

func (l *lru) pushFront(e *memEntry) {
	e.prev, e.next = &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
}

func (l *lru) remove(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	l.n--
}

func (l *lru) moveToFront(e *memEntry) {
	l.remove(e)
	l.pushFront(e)
}

// back returns the least recently used entry, or nil.
func (l *lru) back() *memEntry {
	if l.n == 0 {
		return nil
	}
	return l.root.prev
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

// Ref returns id itself: a MemoryStore's keys are never seen outside.
func (s *MemoryStore) Ref(id string) string { return id }

// AddUser lists id under user for at least ttl.
func (s *MemoryStore) AddUser(ctx context.Context, user, id string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	list := s.users[user]
	if list == nil {
		list = map[string]time.Time{}
		s.users[user] = list
	}
	for other, until := range list { // the user's expired entries go
		if !now.Before(until) {
			delete(list, other)
		}
	}
	if until := now.Add(ttl); until.After(list[id]) {
		list[id] = until
	}
	return nil
}

// RemoveUser takes id off user's list.
func (s *MemoryStore) RemoveUser(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unlist(user, id)
	return nil
}

func (s *MemoryStore) unlist(user, id string) {
	if list := s.users[user]; list != nil {
		delete(list, id)
		if len(list) == 0 {
			delete(s.users, user)
		}
	}
}

// UserSessions returns the sessions listed under user, with their
// records.
func (s *MemoryStore) UserSessions(ctx context.Context, user string) ([]Listed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Listed
	for id, until := range s.users[user] {
		if !now.Before(until) {
			s.unlist(user, id)
			continue
		}
		l := Listed{Ref: id}
		if e := s.live(id); e != nil {
			l.Record = clone(e.record)
		}
		out = append(out, l)
	}
	return out, nil
}

// End stores record at ref for ttl, whatever is there.
func (s *MemoryStore) End(ctx context.Context, ref string, record []byte, ttl time.Duration) error {
	return s.Save(ctx, ref, record, ttl)
}
