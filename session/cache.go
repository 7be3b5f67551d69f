package session

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// verifiedCache remembers cookie values that verified, with their
// payloads, so that a returning client's unchanged cookie is not
// authenticated and decrypted again on every request, the largest cost of
// the read path in either format. A hit
// needs the exact value that verified before (in the koa format, with the
// same signature), under the same keys (a codec has its own cache); the
// session's expiry is still checked on every request, from the payload.
//
// It is bounded: two generations of at most verifiedCacheSize entries,
// the older dropped when the newer fills, and only values of at most
// verifiedValueMax bytes are kept (about 15 MB at most).
//
// A value is cached the second time it verifies, not the first (admit):
// most values a busy site sees once in a while are not back before the
// cache has dropped them, and cloning and inserting each one would cost a
// cold read CPU and make most of the cache's garbage, for nothing (the
// figures are in docs/performance.md).
// A returning client pays for one more verification.
type verifiedCache struct {
	mu        sync.Mutex
	cur, prev map[string]verified
	// door holds hashes of values that verified once, one per slot
	// (a newer value replaces an older one): a Bloom-like doorkeeper of
	// verifiedDoorSize slots, 64 KiB.
	door [verifiedDoorSize]uint64
	seed maphash.Seed
	once sync.Once
}

type verified struct {
	// payload is the bytes that verified, shared with the request that
	// put it (whose parse the memo keeps, sharing them too) and never
	// written to; a later request that needs them gets a copy.
	payload []byte
	resign  bool
	memo    *recordMemo
	sig     string // FormatKoa: the signature cookie that verified the value
}

// recordMemo is what Manager.load made of a cached payload, kept so that
// a returning cookie's record is not parsed again on every request: the
// id, the data (never handed out: sessions get a copy), and the record's
// maxAge and expiry, which load still checks against the clock each time.
type recordMemo struct {
	p atomic.Pointer[parsedPayload]
}

type parsedPayload struct {
	id        string
	rec       record
	malformed bool
	// With a Store, the payload is the id, and rec is the record the
	// store last gave for it, parsed from stored: a record is parsed
	// again only when the store gives other bytes.
	stored []byte
}

// get returns the memo's parsed payload, or nil (also for a nil memo).
func (m *recordMemo) get() *parsedPayload {
	if m == nil {
		return nil
	}
	return m.p.Load()
}

// set remembers p (no-op on a nil memo).
func (m *recordMemo) set(p *parsedPayload) {
	if m != nil {
		m.p.Store(p)
	}
}

const (
	verifiedCacheSize = 4096
	verifiedValueMax  = 1024
	verifiedDoorSize  = 8192
)

// admit reports whether value, which just verified, should be cached:
// whether it verified once before, recently. A false positive (another
// value's hash in its slot) only caches a value sooner.
func (c *verifiedCache) admit(value string) bool {
	if len(value) > verifiedValueMax {
		return false
	}
	c.once.Do(func() { c.seed = maphash.MakeSeed() })
	h := maphash.String(c.seed, value) | 1 // never 0, an empty slot
	slot := &c.door[h%verifiedDoorSize]
	c.mu.Lock()
	defer c.mu.Unlock()
	if *slot == h {
		*slot = 0
		return true
	}
	*slot = h
	return false
}

func (c *verifiedCache) get(value string) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[value]; ok {
		return v, true
	}
	if v, ok := c.prev[value]; ok {
		c.putLocked(value, v)
		return v, true
	}
	return verified{}, false
}

func (c *verifiedCache) put(value string, v verified) {
	if len(value) > verifiedValueMax {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Clone: value may point into the whole Cookie header.
	c.putLocked(strings.Clone(value), v)
}

func (c *verifiedCache) putLocked(value string, v verified) {
	if c.cur == nil || len(c.cur) >= verifiedCacheSize {
		// Not made at full size: the garbage collector scans a map's
		// every slot, used or not, in every cycle, and a full-size
		// generation is 600 KB of them, which a proxy with a few busy
		// sessions would pay for on every request. Growing costs less,
		// once per admission at most.
		c.prev, c.cur = c.cur, make(map[string]verified)
	}
	c.cur[value] = v
}

// len returns how many values the cache holds.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
