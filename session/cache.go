package session

import (
	"bytes"
	"hash/maphash"
	"sync"
	"time"
)

// verifiedCache remembers cookie values that verified, with what their
// record parsed to, so that a returning client's unchanged cookie is not
// authenticated, decrypted and parsed again on every request, the largest
// cost of the read path in either format. A hit needs the exact value that
// verified before (in the koa format, with the same signature), under the
// same keys (a codec has its own cache); the session's expiry is still
// checked on every request, from the remembered record.
//
// It is bounded: two generations of at most verifiedCacheSize entries and
// verifiedArenaSize bytes, the older dropped when the newer fills, and only
// values of at most verifiedValueMax bytes are kept.
//
// It holds no pointer per value for the garbage collector to follow: a
// generation is a map from a value's hash to an entry, entries that are
// numbers and spans, and 256 KiB chunks (the arena) that hold every
// entry's bytes. Full of signed-in users' cookies, the cache is most of
// the proxy's live heap: held as strings, slices and parsed records, it
// would be six objects per value for the collector to mark in every
// cycle; as it is, a cycle marks a map, a slice and a few dozen chunks
// per generation (docs/performance.md has the figures).
//
// A value is cached the second time it verifies, not the first (admit):
// most values a busy site sees once in a while are not back before the
// cache has dropped them, and copying each one in would cost a cold read
// CPU and fill the cache for nothing (the figures are in d325272's
// message). A returning client pays for one more verification.
//
// A value the codec issued in a Set-Cookie is remembered at once (issue),
// with its payload, since a browser sends it back on its next request. It
// goes into two generations of its own, of at most verifiedIssuedSize
// entries, and into cur when it comes back, as a hit in prev does: values
// that never come back (a client that ignores Set-Cookie, or leaves) push
// out only each other, never a returning client's value. They are kept
// in arenas too, for the same reason: a site that writes a session on
// every request holds about two thousand of them, which as strings and
// slices would be 4,000 objects for the collector to mark in every cycle
// (docs/performance-log.md, "The collector, taken apart").
type verifiedCache struct {
	mu        sync.Mutex
	cur, prev generation
	// issued and issuedPrev hold values issued and not yet seen back:
	// entries with a value, a signature and a payload, never parsed.
	issued, issuedPrev generation
	// door holds hashes of values that verified once, one per slot
	// (a newer value replaces an older one): a Bloom-like doorkeeper of
	// verifiedDoorSize slots, 8 KiB.
	door [verifiedDoorSize]uint64
	seed maphash.Seed
	once sync.Once
}

const (
	verifiedCacheSize = 4096
	verifiedArenaSize = 6 << 20
	verifiedChunkSize = 256 << 10 // verifiedArenaSize / 24
	// verifiedFirstChunk is a generation's first chunk; each next one is
	// twice the last, up to verifiedChunkSize: a proxy with a few
	// sessions holds kilobytes for them, not a quarter megabyte.
	verifiedFirstChunk = 16 << 10
	verifiedValueMax   = 1024
	// verifiedDoorSize is how many values that verified once the
	// doorkeeper holds: a value is admitted if it verifies again before
	// about as many others did. One back later is seldom read from the
	// cache before it is dropped, and admitting it costs a copy in and,
	// once a generation is full, turns the generations, so that the
	// values read most are copied again from the older one. The size was
	// chosen on a site's mix, where the cache then serves about two
	// requests in three (docs/performance.md, "Admissions").
	verifiedDoorSize = 1024
	// verifiedIssuedSize bounds each generation of issued values: a
	// second or more of a busy site's writes; about 1 MiB of signed-in
	// users' cookies and payloads. verifiedIssuedArena bounds its bytes,
	// for values and payloads larger than a signed-in user's.
	verifiedIssuedSize  = 1024
	verifiedIssuedArena = 2 << 20
	// verifiedRecordMax bounds a record remembered beside a value (a
	// store's, which may be larger than any cookie): a larger one is parsed
	// on every request instead.
	verifiedRecordMax = 16 << 10
)

// generation is one of the cache's two halves (or of its issued values).
type generation struct {
	index map[uint64]uint32 // a value's hash → its entry
	// filter holds the hashes in index, so that a value the generation
	// does not hold is told in one word, without the index: a cold read
	// looks in all four generations and finds its value in none, and
	// under load each index's lookup waits for memory the CPU's caches
	// have lost (docs/performance.md, "Where a cold read's time goes").
	filter  filter
	entries []entry
	// arena holds the entries' bytes, appended one after another to the
	// last chunk, and a new chunk begun when an entry's do not fit: never
	// moved, and once written never written again, so a slice of them (a
	// session's data) stays as it is while a request holds it, and keeps
	// its chunk alive until then, after the generation is dropped. The
	// one exception is a generation of issued values, whose bytes no
	// request holds: its chunks are written again after it is dropped
	// (recycled).
	arena [][]byte
	size  int // the bytes in arena
	// spare holds chunks to fill before making new ones (recycled).
	spare [][]byte
}

// span is a run of bytes in a chunk of a generation's arena (the entry's).
type span struct{ off, n uint32 }

func (s span) in(chunk []byte) []byte {
	end := s.off + s.n
	return chunk[s.off:end:end] // capped: an append copies, never writes on
}

// entry is a remembered value: the value itself, what verifying it gave,
// and, once a request parsed it, its record.
type entry struct {
	chunk  uint32 // the arena's chunk that holds the spans
	value  span
	sig    span // FormatKoa: the signature cookie that verified the value
	resign bool // verified by an older key
	// payload is kept only for a value an older key verified, whose
	// cookie is re-issued from it; with a store it is the id, and kept.
	payload span

	parsed    bool // the fields below are set
	malformed bool
	id, data  span
	// stored is, with a Store, the record the store last gave for the id,
	// which rec was parsed from: a record is parsed again only when the
	// store gives other bytes.
	stored                 span
	rev                    uint64 // stored's revision, from a RevisionStore
	expire, created, used  int64  // Unix ms
	has                    uint8  // hasExpire | hasCreated | hasUsed
	maxAge                 MaxAge
	isBrowser, recordEnded bool
}

const (
	hasExpire = 1 << iota
	hasCreated
	hasUsed
)

// parsedPayload is what Manager.load made of a payload: the session's id
// (with a store, or in the secure format) and its record.
type parsedPayload struct {
	id        string
	rec       record
	malformed bool
	stored    []byte // with a Store, the record's bytes as the store gave them
	rev       uint64 // with a RevisionStore, the revision of stored; 0: unknown
}

// memo is what get found for a value: its entry, and the chunk of the
// arena that holds its bytes. The zero memo is "not remembered".
type memo struct {
	arena []byte
	e     entry
}

func (m memo) found() bool { return m.arena != nil }

// payload returns a copy of the remembered payload (nil when none was
// kept).
func (m memo) payload() []byte {
	if m.e.payload.n == 0 {
		return nil
	}
	return bytes.Clone(m.e.payload.in(m.arena))
}

// parsed returns the remembered parse, if a request stored one. Its data
// shares the arena's bytes.
func (m memo) parsed() (parsedPayload, bool) {
	e := &m.e
	if !m.found() || !e.parsed {
		return parsedPayload{}, false
	}
	if e.malformed {
		return parsedPayload{malformed: true}, true
	}
	p := parsedPayload{rec: record{maxAge: e.maxAge, isBrowser: e.isBrowser, ended: e.recordEnded}}
	if e.id.n > 0 {
		// A string of its own, not one sharing the arena: an id outlives
		// the request (the minter and the access log remember recent
		// ones), and would keep a whole chunk alive.
		p.id = string(e.id.in(m.arena))
	}
	p.rec.data = e.data.in(m.arena)
	if e.stored.n > 0 {
		p.stored, p.rev = e.stored.in(m.arena), e.rev
	}
	if e.has&hasExpire != 0 {
		p.rec.expire = time.UnixMilli(e.expire)
	}
	if e.has&hasCreated != 0 {
		p.rec.created = time.UnixMilli(e.created)
	}
	if e.has&hasUsed != 0 {
		p.rec.used = time.UnixMilli(e.used)
	}
	return p, true
}

// hash returns value's hash, which get, admit and put take.
func (c *verifiedCache) hash(value string) uint64 {
	c.once.Do(func() { c.seed = maphash.MakeSeed() })
	return maphash.String(c.seed, value)
}

// admit reports whether value (hashed to h), which just verified, should
// be cached: whether it verified once before, recently. A false positive
// (another value's hash in its slot) only caches a value sooner.
func (c *verifiedCache) admit(h uint64, value string) bool {
	if len(value) > verifiedValueMax {
		return false
	}
	slot := &c.door[h%verifiedDoorSize]
	h |= 1 // never 0, an empty slot; set after the slot is chosen, so every slot is used
	c.mu.Lock()
	defer c.mu.Unlock()
	if *slot == h {
		*slot = 0
		return true
	}
	*slot = h
	return false
}

// get returns what the cache remembers of value (hashed to h).
func (c *verifiedCache) get(h uint64, value string) (memo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.cur.get(h, value); ok {
		return m, true
	}
	m, ok := c.prev.get(h, value)
	if !ok {
		if m, ok = c.issued.get(h, value); !ok {
			if m, ok = c.issuedPrev.get(h, value); !ok {
				return memo{}, false
			}
		}
	}
	// Moved to the newer generation, so that it outlives the older (and
	// an issued value the issued ones).
	c.putLocked(h, value, remembered{from: &m})
	return c.cur.get(h, value)
}

// issue remembers value, which the codec has just issued, with the
// payload it carries (and in the koa format its signature), until it
// comes back (see verifiedCache). All three are copied.
func (c *verifiedCache) issue(value, sig string, payload []byte) {
	if len(value) > verifiedValueMax || len(payload) > verifiedIssuedArena/2 {
		return
	}
	h := c.hash(value)
	size := len(value) + len(sig) + len(payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	g := &c.issued
	if g.index == nil || len(g.entries) >= verifiedIssuedSize || g.size+size > verifiedIssuedArena {
		c.issuedPrev, c.issued = c.issued, c.issuedPrev.recycled()
	}
	e := entry{chunk: g.reserve(size)}
	e.value, e.sig, e.payload = add(g, value), add(g, sig), add(g, payload)
	if i, ok := g.index[h]; ok {
		g.entries[i] = e
		return
	}
	g.index[h] = uint32(len(g.entries))
	g.filter.add(h)
	g.entries = append(g.entries, e)
}

// recycled returns an empty generation of issued values made of g's
// parts, which g gives up: its index and entries emptied, its chunks to
// be written again (spare). Issued values fill a generation on every
// write, and a new one's chunks cost more to allocate (zeroed, and their
// pages faulted in) than copying the values in. Their bytes can be
// reused because no request holds them: get copies an issued value into
// cur, under the lock, and hands out only that copy.
func (g generation) recycled() generation {
	if g.index == nil {
		// Made at full size: unlike cur, a generation of issued values
		// fills, and growing would cost more than its entries.
		return generation{
			index:   make(map[uint64]uint32, verifiedIssuedSize),
			filter:  newFilter(verifiedIssuedSize),
			entries: make([]entry, 0, verifiedIssuedSize),
		}
	}
	clear(g.index)
	clear(g.filter)
	spare := g.arena
	for i := range spare {
		spare[i] = spare[i][:0]
	}
	return generation{index: g.index, filter: g.filter, entries: g.entries[:0], spare: spare}
}

func (g *generation) get(h uint64, value string) (memo, bool) {
	if !g.filter.has(h) {
		return memo{}, false
	}
	i, ok := g.index[h]
	if !ok {
		return memo{}, false
	}
	e := g.entries[i]
	chunk := g.arena[e.chunk]
	if string(e.value.in(chunk)) != value {
		return memo{}, false // another value of the same hash
	}
	return memo{arena: chunk, e: e}, true
}

// remembered is what put stores beside a value.
type remembered struct {
	sig     string
	resign  bool
	payload string         // kept only when resign, or with a store (the id)
	parsed  *parsedPayload // nil: not parsed yet
	from    *memo          // instead of the above: an entry of the older generation
}

// put remembers value (hashed to h) with v, replacing what the cache held
// for it.
func (c *verifiedCache) put(h uint64, value string, v remembered) {
	if len(value) > verifiedValueMax {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(h, value, v)
}

func (c *verifiedCache) putLocked(h uint64, value string, v remembered) {
	if from := v.from; from != nil {
		e := &from.e
		v = remembered{sig: string(e.sig.in(from.arena)), resign: e.resign, payload: string(e.payload.in(from.arena))}
		if p, ok := from.parsed(); ok {
			v.parsed = &p
		}
	}
	size := len(value) + len(v.sig) + len(v.payload)
	p := v.parsed
	if p != nil {
		if len(p.stored) > verifiedRecordMax {
			p = nil // too large to keep: parsed again when it comes back
		} else {
			size += len(p.id) + len(p.rec.data) + len(p.stored)
		}
	}
	g := &c.cur
	if g.index == nil || len(g.entries) >= verifiedCacheSize || g.size+size > verifiedArenaSize {
		// Not made at full size: a proxy with a few busy sessions should
		// not hold megabytes for them. Growing costs less, once per
		// admission at most. The filter is the dropped generation's,
		// emptied: 8 KiB.
		f := c.prev.filter
		if f == nil {
			f = newFilter(verifiedCacheSize)
		}
		clear(f)
		c.prev, c.cur = c.cur, generation{index: make(map[uint64]uint32), filter: f}
	}
	e := entry{chunk: g.reserve(size)}
	e.value, e.sig, e.resign, e.payload = add(g, value), add(g, v.sig), v.resign, add(g, v.payload)
	if p != nil {
		e.parsed, e.malformed = true, p.malformed
		e.id, e.data, e.stored, e.rev = add(g, p.id), add(g, p.rec.data), add(g, p.stored), p.rev
		r := &p.rec
		e.maxAge, e.isBrowser, e.recordEnded = r.maxAge, r.isBrowser, r.ended
		if !r.expire.IsZero() {
			e.expire, e.has = r.expire.UnixMilli(), e.has|hasExpire
		}
		if !r.created.IsZero() {
			e.created, e.has = r.created.UnixMilli(), e.has|hasCreated
		}
		if !r.used.IsZero() {
			e.used, e.has = r.used.UnixMilli(), e.has|hasUsed
		}
	}
	if i, ok := g.index[h]; ok {
		g.entries[i] = e // its old bytes stay in the arena until it goes
		return
	}
	g.index[h] = uint32(len(g.entries))
	g.filter.add(h)
	g.entries = append(g.entries, e)
}

// reserve makes room for size bytes in the arena's last chunk, and
// returns its index.
func (g *generation) reserve(size int) uint32 {
	if n := len(g.arena); n == 0 || cap(g.arena[n-1])-len(g.arena[n-1]) < size {
		chunk := g.takeSpare(size)
		if chunk == nil {
			chunk = make([]byte, 0, max(size, chunkSize(n)))
		}
		g.arena = append(g.arena, chunk)
	}
	g.size += size
	return uint32(len(g.arena) - 1)
}

// takeSpare returns a spare chunk with room for size bytes, or nil. A
// spare too small for them (a value larger than a first chunk) is
// dropped.
func (g *generation) takeSpare(size int) []byte {
	for len(g.spare) > 0 {
		chunk := g.spare[0]
		g.spare[0] = nil
		g.spare = g.spare[1:]
		if cap(chunk) >= size {
			return chunk
		}
	}
	return nil
}

// chunkSize is the size of a generation's chunk after n others:
// verifiedFirstChunk, doubled for each, up to verifiedChunkSize.
func chunkSize(n int) int {
	if n >= 4 { // verifiedFirstChunk << 4 == verifiedChunkSize
		return verifiedChunkSize
	}
	return verifiedFirstChunk << n
}

// add appends b to g's arena's last chunk, which reserve made room in,
// and returns its span.
func add[B ~string | ~[]byte](g *generation, b B) span {
	last := &g.arena[len(g.arena)-1]
	s := span{off: uint32(len(*last)), n: uint32(len(b))}
	*last = append(*last, b...)
	return s
}

// len returns how many values the cache holds.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur.entries) + len(c.prev.entries)
}

// filter is a Bloom filter of 64-bit blocks: a hash sets four bits of
// the block its low bits pick, chosen by its high bits, so that a lookup
// reads one word. Full, at 16 bits per hash, it says "maybe" for about
// one absent hash in two hundred, and never "no" for a hash added. A nil
// filter holds nothing.
type filter []uint64

// newFilter returns an empty filter for n hashes (a power of two).
func newFilter(n int) filter { return make(filter, n/4) }

func (f filter) add(h uint64) { f[h&uint64(len(f)-1)] |= filterBits(h) }

// has reports whether h may have been added: false means it was not.
func (f filter) has(h uint64) bool {
	if len(f) == 0 {
		return false
	}
	b := filterBits(h)
	return f[h&uint64(len(f)-1)]&b == b
}

// filterBits are the four bits a hash sets in its block, from the bits
// above those that pick the block.
func filterBits(h uint64) uint64 {
	return 1<<(h>>40&63) | 1<<(h>>46&63) | 1<<(h>>52&63) | 1<<(h>>58&63)
}
