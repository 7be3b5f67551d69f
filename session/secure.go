package session

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// secureCodec is FormatSecure.
type secureCodec struct {
	keys []*secureKey // in order: the first writes every cookie, any reads one
	seen verifiedCache
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
		sk, err := newSecureKey(hashKey, blockKey)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		c.keys = append(c.keys, sk)
	}
	return c, nil
}

// read finds the session cookie as net/http's Request.Cookie does: the
// first cookie of the name whose value is a valid cookie value. The first
// cookie of the name is read unchecked, because a value that the verified
// cache holds or a key opens is base64url, all of whose bytes are valid:
// it is net/http's choice too. The check (validCookieValue) is left to a
// value that is not the proxy's; if that is no valid cookie value, the
// first valid one is read instead.
func (c *secureCodec) read(r *http.Request, name string) (readResult, memo) {
	value, ok := firstCookie(r.Header, name)
	if !ok {
		return readResult{}, memo{}
	}
	if rr, m, ours := c.readValue(name, value); ours || validCookieValue(value) {
		return rr, m
	}
	if value, ok = requestCookie(r.Header, name); !ok {
		return readResult{}, memo{}
	}
	rr, m, _ := c.readValue(name, value)
	return rr, m
}

// readValue reads the session cookie's value, and reports whether it is
// one the proxy issued (remembered, or opened by a key). Otherwise the
// result is a tampered cookie.
func (c *secureCodec) readValue(name, value string) (readResult, memo, bool) {
	h := c.seen.hash(value)
	if m, ok := c.seen.get(h, value); ok {
		rr := readResult{found: true, resign: m.e.resign, value: value, seen: &c.seen, key: h}
		if m.e.resign || !m.e.parsed {
			rr.payload = m.payload()
		}
		return rr, m, true
	}
	// encoding/base64 skips CR and LF, which no cookie value holds: a
	// value with them is not the proxy's, even if a key opens it.
	if strings.IndexByte(value, '\n') >= 0 || strings.IndexByte(value, '\r') >= 0 {
		return readResult{found: true, reject: RejectTampered}, memo{}, false
	}
	for i, k := range c.keys {
		if payload, ok := k.open(name, value); ok {
			// Verified by an older key: re-issue it under the first, so
			// that the old key can be retired without logging anyone out.
			rr := readResult{payload: payload, found: true, resign: i > 0, value: value}
			if c.seen.admit(h, value) {
				rr.seen, rr.key = &c.seen, h
			}
			return rr, memo{}, true
		}
	}
	return readResult{found: true, reject: RejectTampered}, memo{}, false
}

// write encrypts and authenticates payload, or sends current again: a
// securecookie value stays valid under its key (expiry is the payload's
// and the store's business, not the value's timestamp), so a session id
// that did not change needs no new sealing (about 1 µs and a new value
// for the client to store).
func (c *secureCodec) write(h http.Header, ck http.Cookie, payload []byte, current string) error {
	f := &c.lines[0]
	if ck.Secure {
		f = &c.lines[1]
	}
	var line string
	if current != "" {
		if err := fitsCookie("secure cookie", ck.Name, len(current)); err != nil {
			return err
		}
		ck.Value = current
		line = f.line(&ck)
	} else {
		plain := f.fits(&ck) // base64url is plain: no need to check the value
		var tooLarge error
		err := c.keys[0].sealTo(ck.Name, payload, time.Now().Unix(), func(v []byte) {
			if tooLarge = fitsCookie("secure cookie", ck.Name, len(v)); tooLarge != nil {
				return
			}
			if plain {
				// The value is part of the line: no string of its own.
				line = f.plainLineBytes(&ck, v)
				ck.Value = line[len(f.name) : len(f.name)+len(v)]
			} else {
				ck.Value = string(v)
				line = f.line(&ck)
			}
		})
		if err != nil {
			return fmt.Errorf("secure cookie: %w (%w): use store.type memory or redis", ErrCookieTooLarge, err)
		}
		if tooLarge != nil {
			return tooLarge
		}
		c.seen.issue(ck.Value, "", payload) // the client sends it back next
	}
	h.Add("Set-Cookie", line)
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

// parseSecurePayload splits a secure cookie's payload, "<id>.<record>",
// and parses the record, which the key authenticated
// (parseOwnRecordInPlace). Its result shares b's bytes, and may have
// written to them: b is the request's own copy, which nobody reads after.
func parseSecurePayload(b []byte) parsedPayload {
	i := bytes.IndexByte(b, '.')
	if i <= 0 {
		return parsedPayload{malformed: true}
	}
	r, err := parseOwnRecordInPlace(b[i+1:])
	if err != nil {
		return parsedPayload{malformed: true}
	}
	return parsedPayload{id: string(b[:i]), rec: r}
}
