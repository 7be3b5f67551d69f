package session

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Format names a cookie format.
type Format string

// The cookie formats.
const (
	// FormatSecure encrypts and authenticates the cookie with
	// gorilla/securecookie (AES-256-CTR and HMAC-SHA256), with keys
	// derived from Options.Keys.
	FormatSecure Format = "secure"
	// FormatKoa is koa-session's own format: the base64 JSON record (or
	// the id, with a store) in the cookie and a keygrip signature in
	// "<name>.sig".
	FormatKoa Format = "koa"
)

// KeyLayout is how a server-side store keys the sessions of one format.
type KeyLayout struct {
	IDPrefix  string // starts every session id: Options.IDPrefix
	KeyPrefix string // starts every store key, before the id or its hash
	HashIDs   bool   // the key holds a hash of the id rather than the id
}

// StoreKeys returns the key layout of format f's sessions in a store whose
// keys start with prefix. In the koa format the key is the cookie's value,
// the id, as koa-session with koa-redis reads and writes it, so the prefix
// starts the id itself. In the secure format the key is the prefix and a
// hash of the id, so that a listing of the store names no live session.
func (f Format) StoreKeys(prefix string) KeyLayout {
	if f == FormatKoa {
		return KeyLayout{IDPrefix: prefix}
	}
	return KeyLayout{KeyPrefix: prefix, HashIDs: true}
}

// maxCookieSize is the largest name=value a cookie may have: browsers
// keep at least 4096 bytes per cookie (RFC 6265, 6.1) and drop larger
// ones silently, which would lose the session without a word.
const maxCookieSize = 4096

// fitsCookie returns an error, in the words of format, if a cookie name
// with a value of n bytes is larger than browsers keep.
func fitsCookie(format, name string, n int) error {
	if n := len(name) + 1 + n; n > maxCookieSize {
		return fmt.Errorf("%s: %w (%d bytes > %d): use store.type memory or redis", format, ErrCookieTooLarge, n, maxCookieSize)
	}
	return nil
}

// ErrCookieTooLarge is returned by Manager.Commit when the session does
// not fit in a cookie. Nothing is written; the cookie the client has is
// left as it is.
var ErrCookieTooLarge = errors.New("session too large for a cookie")

// readResult is what a codec found in a request.
type readResult struct {
	payload []byte // the verified payload; nil when none
	found   bool   // the client sent the session cookie
	reject  string // a Reject* reason when found but not verified
	resign  bool   // verified by an older key: re-issue the signature
	value   string // the cookie's value as sent (koa's repair; a store write sends it again)
	// seen, when not nil, is the verified cache that remembers value
	// (hashed to key) once the request has parsed its record: the value
	// verified a second time, or came from the cache.
	seen *verifiedCache
	key  uint64
	sig  string // FormatKoa: the signature cookie that verified value
	// For FormatKoa's repair:
	clearSig bool // a .sig cookie matched no key: clear it
}

// remember has the codec's cache, when it keeps the value, remember the
// value with p, what its record parsed to. The payload is kept beside them
// only when it is needed again: to re-issue a cookie an older key
// verified, or as the id with a store (p.stored set).
func (rr readResult) remember(p parsedPayload) {
	if rr.seen == nil {
		return
	}
	v := remembered{sig: rr.sig, resign: rr.resign, parsed: &p}
	switch {
	case p.stored != nil:
		v.payload = p.id
	case rr.resign:
		v.payload = string(rr.payload)
	}
	rr.seen.put(rr.key, rr.value, v)
}

// needsRepair reports whether the client's cookie needs a repair even when
// the session is not saved: a signature re-issued under the first key, or
// a .sig cookie that matched no key cleared.
func (rr readResult) needsRepair() bool { return rr.resign || rr.clearSig }

// codec keeps the session cookie's value from being read or forged.
type codec interface {
	// read returns the verified payload of the cookie named name, and
	// what the codec's cache remembers of it.
	read(r *http.Request, name string) (readResult, memo)
	// write appends the Set-Cookie headers that carry payload, with the
	// attributes of c (whose Name is the cookie name). current is the
	// value of the request's cookie when it already carries payload under
	// the first key, and otherwise "": a codec may send it again rather
	// than encode payload anew.
	write(h http.Header, c http.Cookie, payload []byte, current string) error
	// expire appends the Set-Cookie headers that delete the cookie.
	expire(h http.Header, c http.Cookie)
	// repair appends what the client needs when the session itself is not
	// saved: a koa signature re-issued with the current key, or a .sig
	// cookie that matched no key cleared.
	repair(h http.Header, c http.Cookie, rr readResult)
}

// expired returns c changed to delete the cookie, as koa-session does:
// an empty value that expired at the epoch.
func expired(c http.Cookie) *http.Cookie {
	c.Value = ""
	c.Expires = time.Unix(0, 0)
	c.MaxAge = 0
	return &c
}
