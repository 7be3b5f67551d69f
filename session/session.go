// Package session owns sessionproxy's session model: the Session a request
// carries, how it is read from and written to cookies, the records kept in
// a server-side Store, and koa-session's rules for when a session is saved.
//
// Each file owns one concern:
//
//   - session.go: the Session and its MaxAge.
//   - manager.go: the Manager, its Options, and Load: from a request's
//     cookie to a Session.
//   - commit.go: Commit: from the upstream's Change to the store and the
//     Set-Cookie headers, as a plan carried out in steps.
//   - cookie.go: which request cookies are the session's (read, and
//     stripped before the upstream), and whether a response sets it.
//   - codec.go: the codec interface every cookie format implements;
//     secure.go and koa.go are the two formats, each on its own.
//   - cookieline.go: writing a Set-Cookie line fast.
//   - cache.go: the cache of verified cookie values and their parsed
//     records, in memory the garbage collector does not look into.
//   - record.go: the koa-layout record (data with "_expire"/"_maxAge").
//   - json.go: the JSON scanner and the RFC 7396 merge patch.
//   - store.go: the Store interface; memory.go the in-process Store,
//     whose sessions' bytes slab.go keeps. The Redis Store is in
//     redisstore.
package session

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// MaxAge is how long a session lives after it was last saved: a positive
// duration, or Browser for a cookie that ends when the browser closes
// (koa-session's maxAge "session").
type MaxAge time.Duration

// Browser is koa-session's maxAge "session": the cookie has no expiry and
// the record carries "_session": true instead of "_expire".
const Browser MaxAge = -1

// DefaultMaxAge is koa-session's default maxAge, one day.
const DefaultMaxAge = MaxAge(24 * time.Hour)

// LongestMaxAge is the longest maxAge a session has: 100 years. A record
// with a longer "_maxAge" (a Koa app's maxAge of 1000 years) is read as
// this, rather than overflowing a time.Duration, which ends at 292 years.
const LongestMaxAge = MaxAge(100 * 365 * 24 * time.Hour)

// maxAgeMillis returns the MaxAge of a positive number of milliseconds,
// at most LongestMaxAge.
func maxAgeMillis(ms float64) MaxAge {
	if ms >= float64(LongestMaxAge/MaxAge(time.Millisecond)) {
		return LongestMaxAge
	}
	return MaxAge(time.Duration(ms) * time.Millisecond)
}

// String returns "session" for Browser and the duration otherwise.
func (m MaxAge) String() string {
	if m == Browser {
		return "session"
	}
	return time.Duration(m).String()
}

// Session is one client's session during one request.
type Session struct {
	// ID identifies the session in a server-side store and in the secure
	// cookie format. It is empty in the koa cookie format, whose cookies
	// carry no id.
	ID string
	// Data is the session's data: a JSON object, "{}" when empty. It may
	// share its bytes with the Manager's caches, and other requests': set
	// it to new bytes, never change it in place.
	Data json.RawMessage
	// MaxAge is this session's own maxAge (koa's _maxAge), which sticks
	// to it across saves once an upstream set it.
	MaxAge MaxAge
	// Expire is when the session ends; zero for a Browser session.
	Expire time.Time
	// IsNew reports that the session did not exist before this request.
	IsNew bool
	// Rejected says why the client's cookie gave no session ("" when it
	// did, or when there was no cookie): one of the Reject* reasons.
	Rejected string

	cookie   readResult // what the codec found, without the payload
	stored   []byte     // the record as the store gave it, for Store.Update's last
	cookieID string     // with a store, the id the request's cookie named

	// With stamped records (timeouts, user index): when the session
	// started or was last renewed, and when its use was last written.
	created, used time.Time
	unstamped     bool // its record had no stamps: write them
}

// Why a cookie the client sent did not give a session. Each is counted.
const (
	RejectTampered  = "tampered"  // the signature or MAC did not verify
	RejectMalformed = "malformed" // it verified but could not be decoded
	RejectExpired   = "expired"   // its signed expiry has passed
	RejectUnknown   = "unknown"   // the store has no session with its id
	RejectIdle      = "idle"      // unused for longer than the idle timeout
	RejectAbsolute  = "absolute"  // older than the absolute timeout
)

// IsEmpty reports whether the session holds no data.
func (s *Session) IsEmpty() bool { return isEmptyObject(s.Data) }

// NewID returns a random session id: 128 bits from crypto/rand, encoded as
// 22 characters of unpadded URL-safe base64.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
