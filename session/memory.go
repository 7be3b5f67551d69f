package session

import (
	"context"
	"hash/maphash"
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
// expired entries are dropped as they are met and a few on every write
// (expiredPerWrite), so it needs no Close. Create it with NewMemoryStore.
//
// When a save would exceed a bound, expired entries go first, then the
// least recently used of the sessions that were never used again after
// their first save, and only then the least recently used of the others
// (a segmented LRU): a client that makes new sessions by the thousand
// pushes out its own one-time sessions, not the users who come back.
//
// It is also a UserIndex, for Options.UserKey.
//
// Its entries are slots in one slice, found through a map from a hash of
// the id to the slot's number, and linked (LRU lists, expiry heap) by
// slot numbers; each session's id and record are one cell of a slab
// (slabs), found by numbers too. Nothing per session is a pointer: the
// garbage collector marks the slab's pages, not the sessions, and a
// lookup touches a map group, a slot and the record (LoadRevision of a
// record the caller has: the group and the slot).
type MemoryStore struct {
	max      int
	maxBytes int64
	now      func() time.Time
	seed     maphash.Seed

	mu    sync.Mutex
	index map[uint64]uint32 // hash of id → slot
	slots []memSlot         // slots[probationRoot], slots[protectedRoot] are the lists' roots
	data  slabs             // every entry's id and record
	free  []uint32          // unused slots
	byExp []uint32          // every entry's slot, soonest expiry first
	gen   uint64            // bumped on every write: the revision of the record written
	bytes int64             // what the entries count towards maxBytes
	// evicted counts the entries removed before their expiry to keep
	// within the bounds (Evicted).
	evicted uint64
	// probation holds the entries not used since their first save,
	// protected the ones used again, each most recently used first.
	probation, protected lru
	users                map[string]*userList // the user index (memusers.go)
	userEnds             userHeap             // every user's list, soonest end first
}

var (
	_ RevisionStore = (*MemoryStore)(nil)
	_ UserIndex     = (*MemoryStore)(nil)
)

// memSlot is one entry: 64 bytes, one cache line.
type memSlot struct {
	expire     int64  // Unix nanoseconds
	gen        uint64 // its record's revision (the store's gen then); 0: the slot is free
	data       slab   // the id, then the record
	heap       uint32 // index in byExp
	prev, next uint32 // in its LRU list
	idLen      uint32
	protected  bool     // in protected rather than probation
	_          [16]byte // to 64 bytes, so that no slot spans two lines
}

func (s *MemoryStore) id(i uint32) []byte { return s.data.bytes(s.slots[i].data)[:s.slots[i].idLen] }
func (s *MemoryStore) record(i uint32) []byte {
	return s.data.bytes(s.slots[i].data)[s.slots[i].idLen:]
}
func (e *memSlot) size() int64 { return int64(e.data.n) + MemoryEntryOverhead }

// setData stores id and record in a new cell of the slab for slot i,
// freeing the one it had (if any).
func (s *MemoryStore) setData(i uint32, id string, record []byte) {
	e := &s.slots[i]
	if e.gen != 0 {
		s.data.free(e.data)
	}
	var b []byte
	e.data, b = s.data.alloc(len(id)+len(record), i)
	copy(b[copy(b, id):], record)
	e.idLen = uint32(len(id))
}

const (
	probationRoot = 0
	protectedRoot = 1
)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &MemoryStore{max: o.MaxEntries, maxBytes: o.MaxBytes, now: o.Now, seed: maphash.MakeSeed(),
		index: map[uint64]uint32{}, slots: make([]memSlot, 2), users: map[string]*userList{}}
	s.probation.init(s, probationRoot)
	s.protected.init(s, protectedRoot)
	s.data.handle = func(i uint32) *slab { return &s.slots[i].data } // a slot owns its cell
	return s
}

// Load returns a copy of the record saved under id.
func (s *MemoryStore) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.live(id)
	if !ok {
		return nil, false, nil
	}
	s.used(i)
	return clone(s.record(i)), true, nil
}

// LoadRevision is Load with the record's revision (RevisionStore): the
// store's count of writes when the record was written. A caller that
// still has the record (have) gets no copy, and the lookup does not read
// the record at all: a revision is given to one record only, so a slot
// holding it holds id's record.
func (s *MemoryStore) LoadRevision(ctx context.Context, id string, have uint64) ([]byte, uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have != 0 {
		if i, ok := s.index[maphash.String(s.seed, id)]; ok && s.slots[i].gen == have {
			if s.now().UnixNano() >= s.slots[i].expire {
				s.remove(i)
				return nil, 0, false, nil
			}
			s.used(i)
			return nil, have, true, nil
		}
	}
	i, ok := s.live(id)
	if !ok {
		return nil, 0, false, nil
	}
	s.used(i)
	return clone(s.record(i)), s.slots[i].gen, true, nil
}

// Save stores a copy of record under id for ttl.
func (s *MemoryStore) Save(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(id, record, ttl)
	return nil
}

// Delete removes id.
func (s *MemoryStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.find(id); ok {
		s.remove(i)
	}
	return nil
}

// Update replaces the record under id with what fn returns. fn runs
// without the store locked; if another write to id happened meanwhile,
// fn runs again on the newer record (optimistic concurrency). Reading is
// cheap here, so last is not used.
func (s *MemoryStore) Update(ctx context.Context, id string, last []byte, fn UpdateFunc) error {
	_, err := s.UpdateRevision(ctx, id, last, fn)
	return err
}

// UpdateRevision is Update that also returns the revision of the record
// written (RevisionStore).
func (s *MemoryStore) UpdateRevision(ctx context.Context, id string, _ []byte, fn UpdateFunc) (uint64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		s.mu.Lock()
		var cur []byte
		var gen uint64 // 0: missing
		if i, ok := s.live(id); ok {
			cur, gen = clone(s.record(i)), s.slots[i].gen
		}
		s.mu.Unlock()

		next, ttl, err := fn(cur, gen != 0)
		if err != nil {
			return 0, err
		}

		s.mu.Lock()
		var now uint64
		if i, ok := s.live(id); ok {
			now = s.slots[i].gen
		}
		if now == gen {
			s.put(id, next, ttl)
			rev := s.gen // the revision put gave the record
			s.mu.Unlock()
			return rev, nil
		}
		s.mu.Unlock() // lost a race: run fn again on the newer record
	}
}

// Len returns the number of sessions held (expired ones excluded).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(s.now().UnixNano(), len(s.byExp)) // all of them: Len is not on the request path
	return len(s.byExp)
}

// Evicted returns the number of sessions removed before their expiry to
// keep the store within MaxEntries and MaxBytes: users logged out because
// the store was full.
func (s *MemoryStore) Evicted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evicted
}

// Ping reports whether the store can answer, for readiness checks: a
// MemoryStore always can.
func (s *MemoryStore) Ping(ctx context.Context) error { return ctx.Err() }

// find returns id's slot. s.mu is held.
func (s *MemoryStore) find(id string) (uint32, bool) {
	i, ok := s.index[maphash.String(s.seed, id)]
	if !ok || string(s.id(i)) != id { // another id with the same hash
		return 0, false
	}
	return i, true
}

// live returns id's slot, dropping it if it has expired. s.mu is held.
func (s *MemoryStore) live(id string) (uint32, bool) {
	i, ok := s.find(id)
	if !ok {
		return 0, false
	}
	if s.now().UnixNano() >= s.slots[i].expire {
		s.remove(i)
		return 0, false
	}
	return i, true
}

// put stores a copy of record under id, then restores the bounds. s.mu
// is held.
func (s *MemoryStore) put(id string, record []byte, ttl time.Duration) {
	s.gen++
	t := s.now()
	now, expire := t.UnixNano(), t.Add(ttl).UnixNano()
	h := maphash.String(s.seed, id)
	i, ok := s.index[h]
	if ok && string(s.id(i)) != id {
		if now < s.slots[i].expire {
			s.evicted++
		}
		s.remove(i) // another id with the same 64-bit hash: it goes, as if evicted
		ok = false
	}
	if ok {
		s.bytes -= s.slots[i].size()
		s.setData(i, id, record)
		e := &s.slots[i]
		e.expire, e.gen = expire, s.gen
		s.bytes += e.size()
		s.fix(e.heap)
		s.listOf(i).moveToFront(i)
	} else {
		if n := len(s.free); n > 0 {
			i, s.free = s.free[n-1], s.free[:n-1]
		} else {
			i = uint32(len(s.slots))
			s.slots = append(s.slots, memSlot{})
		}
		s.slots[i] = memSlot{}
		s.setData(i, id, record)
		e := &s.slots[i]
		e.expire, e.gen = expire, s.gen
		s.bytes += e.size()
		s.index[h] = i
		s.push(i)
		s.probation.pushFront(i)
	}
	s.dropExpired(now, expiredPerWrite)
	for len(s.byExp) > 1 && (len(s.byExp) > s.max || (s.maxBytes > 0 && s.bytes > s.maxBytes)) {
		if top := s.byExp[0]; now >= s.slots[top].expire {
			s.remove(top) // expired entries still go first
			continue
		}
		victim, ok := s.probation.back()
		if !ok || victim == i && s.protected.n > 0 {
			victim, _ = s.protected.back()
		}
		s.remove(victim)
		s.evicted++
	}
}

// used records a use of slot i: a session used again is protected from
// the eviction of one-time sessions. The protected entries are kept to at
// most protectedShare of the bound, so that new sessions always have
// room. s.mu is held.
func (s *MemoryStore) used(i uint32) {
	if s.slots[i].protected {
		s.protected.moveToFront(i)
		return
	}
	s.probation.remove(i)
	s.slots[i].protected = true
	s.protected.pushFront(i)
	for s.protected.n > s.max*protectedShare/100 {
		d, _ := s.protected.back()
		s.protected.remove(d)
		s.slots[d].protected = false
		s.probation.pushFront(d)
	}
}

// protectedShare is the most of MaxEntries, in percent, that sessions
// used again may hold.
const protectedShare = 80

func (s *MemoryStore) listOf(i uint32) *lru {
	if s.slots[i].protected {
		return &s.protected
	}
	return &s.probation
}

// expiredPerWrite is the most expired entries a write drops beyond those
// it must to stay in its bounds. Every entry is made by a write and
// expires once, so dropping more than one per write drains any backlog;
// dropping them all at once would, after a mass expiry (a site quiet
// overnight, a clock stepped forward), hold the lock and every request
// behind it for as long as that takes: 0.2 s for a million.
const expiredPerWrite = 16

// dropExpired removes up to limit entries expired at now (Unix
// nanoseconds), the earliest first. s.mu is held.
func (s *MemoryStore) dropExpired(now int64, limit int) {
	for ; limit > 0 && len(s.byExp) > 0 && now >= s.slots[s.byExp[0]].expire; limit-- {
		s.remove(s.byExp[0])
	}
}

// remove frees slot i. s.mu is held.
func (s *MemoryStore) remove(i uint32) {
	e := &s.slots[i]
	s.heapRemove(e.heap)
	delete(s.index, maphash.Bytes(s.seed, s.id(i)))
	s.listOf(i).remove(i)
	s.bytes -= e.size()
	s.data.free(e.data)
	*e = memSlot{}
	s.free = append(s.free, i)
}

// lru is a list of slots, most recently used first, linked through the
// slots themselves from a root slot.
type lru struct {
	s    *MemoryStore
	root uint32 // slots[root].next is the front, slots[root].prev the back
	n    int
}

func (l *lru) init(s *MemoryStore, root uint32) {
	l.s, l.root = s, root
	s.slots[root].prev, s.slots[root].next = root, root
}

func (l *lru) pushFront(i uint32) {
	sl := l.s.slots
	front := sl[l.root].next
	sl[i].prev, sl[i].next = l.root, front
	sl[front].prev = i
	sl[l.root].next = i
	l.n++
}

func (l *lru) remove(i uint32) {
	sl := l.s.slots
	prev, next := sl[i].prev, sl[i].next
	sl[prev].next, sl[next].prev = next, prev
	sl[i].prev, sl[i].next = 0, 0
	l.n--
}

func (l *lru) moveToFront(i uint32) {
	if l.s.slots[l.root].next == i {
		return
	}
	l.remove(i)
	l.pushFront(i)
}

// back returns the least recently used slot, or false.
func (l *lru) back() (uint32, bool) {
	if l.n == 0 {
		return 0, false
	}
	return l.s.slots[l.root].prev, true
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// The expiry heap: byExp holds slot numbers, soonest expiry first, and
// each slot its index in byExp.

func (s *MemoryStore) less(a, b int) bool {
	return s.slots[s.byExp[a]].expire < s.slots[s.byExp[b]].expire
}

func (s *MemoryStore) swap(a, b int) {
	h := s.byExp
	h[a], h[b] = h[b], h[a]
	s.slots[h[a]].heap, s.slots[h[b]].heap = uint32(a), uint32(b)
}

func (s *MemoryStore) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !s.less(j, p) {
			break
		}
		s.swap(j, p)
		j = p
	}
}

func (s *MemoryStore) down(j int) bool {
	start, n := j, len(s.byExp)
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s.less(r, c) {
			c = r
		}
		if !s.less(c, j) {
			break
		}
		s.swap(j, c)
		j = c
	}
	return j > start
}

func (s *MemoryStore) push(i uint32) {
	s.slots[i].heap = uint32(len(s.byExp))
	s.byExp = append(s.byExp, i)
	s.up(len(s.byExp) - 1)
}

func (s *MemoryStore) fix(j uint32) {
	if !s.down(int(j)) {
		s.up(int(j))
	}
}

func (s *MemoryStore) heapRemove(j uint32) {
	last := len(s.byExp) - 1
	if int(j) != last {
		s.swap(int(j), last)
	}
	s.byExp = s.byExp[:last]
	if int(j) != last {
		s.fix(j)
	}
}

// Ref returns id itself: a MemoryStore's keys are never seen outside.
func (s *MemoryStore) Ref(id string) string { return id }

// End stores record at ref for ttl, whatever is there.
func (s *MemoryStore) End(ctx context.Context, ref string, record []byte, ttl time.Duration) error {
	return s.Save(ctx, ref, record, ttl)
}
