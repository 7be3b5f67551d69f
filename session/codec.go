package session

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
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

// maxCookieSize is the largest name=value a cookie may have: browsers
// keep at least 4096 bytes per cookie (RFC 6265, 6.1) and drop larger
// ones silently, which would lose the session without a word.
const maxCookieSize = 4096

// ErrCookieTooLarge is returned by Manager.Commit when the session does
// not fit in a cookie. Nothing is written; the cookie the client has is
// left as it is.
var ErrCookieTooLarge = errors.New("session too large for a cookie")

// readResult is what a codec found in a request.
type readResult struct {
	payload []byte      // the verified payload; nil when none
	found   bool        // the client sent the session cookie
	reject  string      // a Reject* reason when found but not verified
	resign  bool        // verified by an older key: re-issue the signature
	memo    *recordMemo // the verified cache's memo: the parsed payload
	value   string      // the cookie's value as sent (koa's repair; a store write sends it again)
	// For FormatKoa's repair:
	clearSig bool // a .sig cookie matched no key: clear it
}

// codec keeps the session cookie's value from being read or forged.
type codec interface {
	// read returns the verified payload of the cookie named name.
	read(r *http.Request, name string) readResult
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

// secureCodec is FormatSecure.
type secureCodec struct {
	codecs []securecookie.Codec
	seen   verifiedCache
	// lines formats the Set-Cookie lines of cookies with the Manager's
	// attributes, without and with Secure (SecureAuto sets it per request).
	lines [2]cookieFormat
}

// newSecureCodec returns the codec for keys, writing cookies with the
// attributes of tmpl.
func newSecureCodec(keys []string, tmpl http.Cookie) (*secureCodec, error) {
	c := &secureCodec{}
	tmpl.Secure = false
	c.lines[0] = newCookieFormat(tmpl)
	tmpl.Secure = true
	c.lines[1] = newCookieFormat(tmpl)
	for i, k := range keys {
		hashKey, err := hkdf.Key(sha256.New, []byte(k), nil, "sessionproxy secure cookie: hmac-sha256", 32)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		blockKey, err := hkdf.Key(sha256.New, []byte(k), nil, "sessionproxy secure cookie: aes-256", 32)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		sc := securecookie.New(hashKey, blockKey)
		sc.MaxAge(0) // expiry is checked inside the payload, per session
		sc.SetSerializer(securecookie.NopEncoder{})
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

func (c *secureCodec) read(r *http.Request, name string) readResult {
	value, ok := requestCookie(r.Header, name)
	if !ok {
		return readResult{}
	}
	if v, ok := c.seen.get(value); ok {
		rr := readResult{found: true, resign: v.resign, memo: v.memo, value: value}
		if v.resign || v.memo.get() == nil {
			rr.payload = bytes.Clone(v.payload)
		}
		return rr
	}
	var payload []byte
	for i, sc := range c.codecs {
		if sc.Decode(name, value, &payload) == nil {
			// Verified by an older key: re-issue it under the first, so
			// that the old key can be retired without logging anyone out.
			memo := new(recordMemo)
			c.seen.put(value, verified{payload: bytes.Clone(payload), resign: i > 0, memo: memo})
			return readResult{payload: payload, found: true, resign: i > 0, memo: memo, value: value}
		}
	}
	return readResult{found: true, reject: RejectTampered}
}

// maxRequestCookies is net/http's limit on the cookies of a request: with
// more, Request.Cookie finds none.
const maxRequestCookies = 3000

// requestCookie returns the value of the first valid cookie name in the
// Cookie headers of h, as Request.Cookie(name).Value does, without parsing
// every cookie into a *http.Cookie: the value is a substring of the header.
// A value that is not a valid cookie value is skipped, and surrounding
// double quotes are removed.
func requestCookie(h http.Header, name string) (string, bool) {
	lines := h["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxRequestCookies {
		return "", false
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue reports whether every byte of v may be in a cookie
// value, by net/http's rules for request cookies.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// verifiedCache remembers cookie values that verified, with their
// payloads, so that a returning client's unchanged cookie is not
// authenticated and decrypted again on every request: that is about 5 µs,
// the largest cost of the read path (2.5 µs in the koa format). A hit
// needs the exact value that verified before (in the koa format, with the
// same signature), under the same keys (a codec has its own cache); the
// session's expiry is still checked on every request, from the payload.
//
// It is bounded: two generations of at most verifiedCacheSize entries,
// the older dropped when the newer fills, and only values of at most
// verifiedValueMax bytes are kept (about 15 MB at most).
type verifiedCache struct {
	mu        sync.Mutex
	cur, prev map[string]verified
}

type verified struct {
	payload []byte // never handed out: callers get a copy
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
)

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
		c.prev, c.cur = c.cur, make(map[string]verified, verifiedCacheSize/4)
	}
	c.cur[value] = v
}

// len returns how many values the cache holds.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}

// write encrypts and authenticates payload, or sends current again: a
// securecookie value stays valid under its key (expiry is the payload's
// and the store's business, not the value's timestamp), so a session id
// that did not change needs no new encoding, which is most of what a
// store write costs the proxy (about 3 µs).
func (c *secureCodec) write(h http.Header, ck http.Cookie, payload []byte, current string) error {
	v := current
	if v == "" {
		var err error
		if v, err = securecookie.EncodeMulti(ck.Name, payload, c.codecs[0]); err != nil {
			// securecookie refuses values over its 4096-byte limit.
			return fmt.Errorf("secure cookie: %w (%w): use store.type memory or redis", ErrCookieTooLarge, err)
		}
	}
	if n := len(ck.Name) + 1 + len(v); n > maxCookieSize {
		return fmt.Errorf("secure cookie: %w (%d bytes > %d): use store.type memory or redis", ErrCookieTooLarge, n, maxCookieSize)
	}
	ck.Value = v
	f := &c.lines[0]
	if ck.Secure {
		f = &c.lines[1]
	}
	h.Add("Set-Cookie", f.line(&ck))
	return nil
}

func (c *secureCodec) expire(h http.Header, ck http.Cookie) {
	h.Add("Set-Cookie", expired(ck).String())
}

// repair re-issues a cookie that an older key verified, unchanged but
// encrypted under the first key.
func (c *secureCodec) repair(h http.Header, ck http.Cookie, rr readResult) {
	if rr.resign && rr.reject == "" && rr.payload != nil {
		_ = c.write(h, ck, rr.payload, "") // it fitted before; if not, the old cookie stays
	}
}

// expired returns c changed to delete the cookie, as koa-session does:
// an empty value that expired at the epoch.
func expired(c http.Cookie) *http.Cookie {
	c.Value = ""
	c.Expires = time.Unix(0, 0)
	c.MaxAge = 0
	return &c
}
