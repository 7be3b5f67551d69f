package session

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"

	asmbase64 "github.com/segmentio/asm/base64"

	"github.com/sessionproxy/sessionproxy/internal/b64"
)

// koaCodec is FormatKoa: koa-session's cookie, as written by the cookies
// 0.9 library with a keygrip signature.
//
// The value is the standard base64 of the record's JSON (koa-session's
// encode), or, with a server-side store, the session id as is (koa-session's
// externalKey). When signed, "<name>.sig" holds keygrip's signature of the
// string "<name>=<value>": HMAC-SHA1 (or the hash of the app's
// new Keygrip(keys, algorithm)) with the first key, URL-safe base64
// without padding. Every key verifies, in order.
type koaCodec struct {
	keys   [][]byte
	signed bool
	encode bool // base64 the payload (cookie store); false: an id, sent as is
	// seen remembers signed values that verified, with their signature,
	// as secureCodec's does: a returning cookie is not signed and decoded
	// again on every request.
	seen verifiedCache
	// works are the HMACs keyed with each key, with a buffer, pooled
	// together: a cold read checks a signature, and every cookie written
	// is signed.
	works sync.Pool // *gripWork
}

// gripWork is what making or checking one signature uses.
type gripWork struct {
	macs []hash.Hash // one per key, in order
	buf  []byte
	sum  [sha512.Size]byte
	enc  [86]byte // base64url of sum, unpadded
}

// keygripHashes are the algorithms keygrip is used with, by their names
// in Node's crypto.
var keygripHashes = map[string]func() hash.Hash{
	"": sha1.New, "sha1": sha1.New, "sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New,
}

func newKoaCodec(keys []string, algorithm string, signed, encode bool) (*koaCodec, error) {
	if signed && len(keys) == 0 {
		return nil, errors.New("format koa: signed cookies need at least one key")
	}
	newHash, ok := keygripHashes[algorithm]
	if !ok {
		return nil, fmt.Errorf("format koa: keygrip algorithm %q must be sha1, sha256, sha384 or sha512", algorithm)
	}
	c := &koaCodec{signed: signed, encode: encode}
	for _, k := range keys {
		c.keys = append(c.keys, []byte(k))
	}
	c.works.New = func() any {
		w := &gripWork{}
		for _, k := range c.keys {
			w.macs = append(w.macs, hmac.New(newHash, k))
		}
		return w
	}
	return c, nil
}

// digest is keygrip's sign of "name=value" with the i-th key: the HMAC,
// URL-safe base64 without padding.
func (w *gripWork) digest(i int, name, value string) []byte {
	w.buf = append(append(append(w.buf[:0], name...), '='), value...)
	mac := w.macs[i]
	mac.Reset()
	mac.Write(w.buf)
	sum := mac.Sum(w.sum[:0])
	n := base64.RawURLEncoding.EncodedLen(len(sum))
	base64.RawURLEncoding.Encode(w.enc[:n], sum)
	return w.enc[:n]
}

// sign is keygrip's sign of "name=value" with the first key.
func (c *koaCodec) sign(name, value string) string {
	w := c.works.Get().(*gripWork)
	defer c.works.Put(w)
	return string(w.digest(0, name, value))
}

// index is keygrip's index: the position of the key that signed
// "name=value" as digest, or -1. Each comparison takes constant time.
func (c *koaCodec) index(name, value, digest string) int {
	w := c.works.Get().(*gripWork)
	defer c.works.Put(w)
	for i := range w.macs {
		if subtle.ConstantTimeCompare(w.digest(i, name, value), []byte(digest)) == 1 {
			return i
		}
	}
	return -1
}

// read follows cookies 0.9's get(name, {signed}) and koa-session's
// initFromCookie: a missing signature means no session; a signature that
// matches no key means no session and a cleared .sig cookie; one that
// matches an older key means the session, with the .sig re-issued.
func (c *koaCodec) read(r *http.Request, name string) (readResult, memo) {
	// Node joins repeated Cookie headers (HTTP/2) with "; ".
	header := strings.Join(r.Header.Values("Cookie"), "; ")
	value, ok := cookieValue(header, name)
	if !ok {
		return readResult{}, memo{}
	}
	rr := readResult{found: true, value: value}
	var h uint64
	if c.signed {
		sig, _ := cookieValue(header, name+".sig")
		if sig == "" {
			rr.reject = RejectTampered
			return rr, memo{}
		}
		h = c.seen.hash(value)
		if m, ok := c.seen.get(h, value); ok && subtle.ConstantTimeCompare(m.e.sig.in(m.arena), []byte(sig)) == 1 {
			rr.resign, rr.seen, rr.key, rr.sig = m.e.resign, &c.seen, h, sig
			if m.e.resign || !m.e.parsed {
				rr.payload = m.payload()
			}
			return rr, m
		}
		i := c.index(name, value, sig)
		if i < 0 {
			rr.reject, rr.clearSig = RejectTampered, true
			return rr, memo{}
		}
		rr.resign, rr.sig = i > 0, sig
	}
	if value == "" {
		return rr, memo{} // koa: an empty cookie is no cookie
	}
	if !c.encode {
		rr.payload = []byte(value)
	} else {
		b, err := decodeBase64(value)
		if err != nil {
			rr.reject = RejectMalformed
			return rr, memo{}
		}
		rr.payload = b
	}
	if c.signed && c.seen.admit(h, value) {
		rr.seen, rr.key = &c.seen, h
	}
	return rr, memo{}
}

// cookieValue finds the cookie name in a Cookie header as cookies 0.9 does:
// the first match of /(?:^|;) *NAME=([^;]*)/, without surrounding double
// quotes.
func cookieValue(header, name string) (string, bool) {
	for i := 0; i <= len(header); {
		j := i
		for j < len(header) && header[j] == ' ' {
			j++
		}
		if strings.HasPrefix(header[j:], name+"=") {
			v := header[j+len(name)+1:]
			if k := strings.IndexByte(v, ';'); k >= 0 {
				v = v[:k]
			}
			if len(v) > 0 && v[0] == '"' {
				// JavaScript's value.slice(1, -1).
				if len(v) >= 2 {
					v = v[1 : len(v)-1]
				} else {
					v = ""
				}
			}
			return v, true
		}
		k := strings.IndexByte(header[i:], ';')
		if k < 0 {
			break
		}
		i += k + 1
	}
	return "", false
}

// decodeBase64 decodes like Node's Buffer.from(s, "base64"), which
// koa-session uses: both alphabets, padding optional, other characters
// ignored, decoding stops at the first "=".
//
// koa-session writes standard base64 with its padding, which
// segmentio/asm's strict decoder takes in about a seventh of the time of
// decodeBase64Node's loop (270 against 1,800-2,600 ns for a signed-in
// user's 900-character value): a value it decodes has one meaning in
// both, so its bytes are Node's too (FuzzDecodeBase64LikeNode). Anything
// else takes Node's way.
func decodeBase64(s string) ([]byte, error) {
	if b, err := asmbase64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return decodeBase64Node(s)
}

// decodeBase64Node is decodeBase64 for any value, a character at a time.
func decodeBase64Node(s string) ([]byte, error) {
	var stack [4096]byte // the characters kept, for a cookie's size; a longer value grows onto the heap
	b := stack[:0]
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '=':
			i = len(s)
		case ch == '-':
			b = append(b, '+')
		case ch == '_':
			b = append(b, '/')
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '+', ch == '/':
			b = append(b, ch)
		}
	}
	if len(b)%4 == 1 {
		b = b[:len(b)-1] // Node drops a lone trailing sextet
	}
	// encoding/base64's decoder, not segmentio/asm's: b would escape to
	// the heap through the latter's function values, and the loop above
	// costs more than decoding anyway.
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(b)))
	n, err := base64.RawStdEncoding.Decode(out, b)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return out[:n], nil
}

func (c *koaCodec) write(h http.Header, ck http.Cookie, payload []byte, _ string) error {
	var line string
	if c.encode {
		// The value is encoded into a pooled buffer and copied once,
		// into the line, and is part of the line, as the secure
		// cookie's is.
		n := b64.Std.EncodedLen(len(payload))
		if err := fitsCookie("format koa", ck.Name, n); err != nil {
			return err
		}
		w := c.works.Get().(*gripWork)
		w.buf = b64.Std.AppendEncode(w.buf[:0], payload)
		line = koaHeaderBytes(ck, w.buf)
		c.works.Put(w)
		ck.Value = line[len(ck.Name)+1 : len(ck.Name)+1+n]
	} else {
		if ck.Value = string(payload); strings.ContainsAny(ck.Value, "; \t\r\n\",\\") {
			return fmt.Errorf("format koa: session id %q is not a cookie value", ck.Value)
		}
		if err := fitsCookie("format koa", ck.Name, len(ck.Value)); err != nil {
			return err
		}
		line = koaHeader(ck)
	}
	h.Add("Set-Cookie", line)
	if c.signed {
		sig := c.sign(ck.Name, ck.Value)
		c.addSig(h, ck, sig)
		c.seen.issue(ck.Value, sig, payload) // the client sends it back next
	}
	return nil
}

// set appends ck and, when signed, its signature cookie with the same
// attributes, as cookies 0.9's set does.
func (c *koaCodec) set(h http.Header, ck http.Cookie) {
	h.Add("Set-Cookie", koaHeader(ck))
	if c.signed {
		c.addSig(h, ck, c.sign(ck.Name, ck.Value))
	}
}

// addSig appends the signature cookie of ck, sig, with ck's attributes.
func (c *koaCodec) addSig(h http.Header, ck http.Cookie, sig string) {
	ck.Value, ck.Name = sig, ck.Name+".sig"
	h.Add("Set-Cookie", koaHeader(ck))
}

// expire writes what koa-session's remove writes: an empty value that
// expired at the epoch and, when signed, the signature of that empty value,
// expired too.
func (c *koaCodec) expire(h http.Header, ck http.Cookie) {
	ck.Value, ck.Expires = "", time.Unix(0, 0)
	c.set(h, ck)
}

// repair re-issues a signature made by an older key with the first one, or
// clears a signature that matched no key, as cookies 0.9's get does. Unlike
// cookies 0.9, both use the session cookie's own attributes (the caller sets
// Expires to the session's expiry): cookies 0.9 writes them with path "/"
// and no expiry, which leaves a stale .sig behind under another path and
// loses the signature when the browser closes.
//
// A re-signed cookie is sent with its value too, unlike cookies 0.9: a
// browser's parallel requests after a key rotation all carry the old
// signature, and one of them may save the session (a new value and its
// .sig) while another only re-signs. A lone .sig applied after the new
// value would sign a value the browser no longer has, and the session
// would read as tampered; the pair stays a pair, at worst the older one.
func (c *koaCodec) repair(h http.Header, ck http.Cookie, rr readResult) {
	if !c.signed {
		return
	}
	switch {
	case rr.clearSig:
		ck.Name += ".sig"
		ck.Value, ck.Expires = "", time.Unix(0, 0)
		h.Add("Set-Cookie", koaHeader(ck))
	case rr.resign && rr.reject == "":
		ck.Value = rr.value
		h.Add("Set-Cookie", koaHeader(ck))
		ck.Name, ck.Value = ck.Name+".sig", c.sign(ck.Name, rr.value)
		h.Add("Set-Cookie", koaHeader(ck))
	}
}

// koaHeader formats a Set-Cookie value exactly as cookies 0.9's toHeader:
// lower-case attributes in its order, and expires rather than Max-Age.
func koaHeader(ck http.Cookie) string {
	var b strings.Builder
	growKoa(&b, ck, len(ck.Value))
	b.WriteString(ck.Name)
	b.WriteByte('=')
	b.WriteString(ck.Value)
	koaAttributes(&b, ck)
	return b.String()
}

// koaHeaderBytes is koaHeader with the value v instead of ck.Value.
func koaHeaderBytes(ck http.Cookie, v []byte) string {
	var b strings.Builder
	growKoa(&b, ck, len(v))
	b.WriteString(ck.Name)
	b.WriteByte('=')
	b.Write(v)
	koaAttributes(&b, ck)
	return b.String()
}

func growKoa(b *strings.Builder, ck http.Cookie, value int) {
	b.Grow(len(ck.Name) + value + len(ck.Path) + len(ck.Domain) + 96)
}

// koaAttributes writes what follows the value in koaHeader.
func koaAttributes(b *strings.Builder, ck http.Cookie) {
	if ck.Path != "" {
		b.WriteString("; path=")
		b.WriteString(ck.Path)
	}
	if !ck.Expires.IsZero() {
		var buf [len(http.TimeFormat)]byte
		b.WriteString("; expires=")
		b.Write(appendHTTPDate(buf[:0], ck.Expires))
	}
	if ck.Domain != "" {
		b.WriteString("; domain=")
		b.WriteString(ck.Domain)
	}
	switch ck.SameSite {
	case http.SameSiteLaxMode:
		b.WriteString("; samesite=lax")
	case http.SameSiteStrictMode:
		b.WriteString("; samesite=strict")
	case http.SameSiteNoneMode:
		b.WriteString("; samesite=none")
	}
	if ck.Secure {
		b.WriteString("; secure")
	}
	if ck.HttpOnly {
		b.WriteString("; httponly")
	}
}

// parseKoaPayload parses a koa cookie's payload, the record itself. Its
// result shares b's bytes, and may have written to them: b is the
// request's own copy, which nobody reads after.
func parseKoaPayload(b []byte) parsedPayload {
	r, err := parseRecordInPlace(b)
	if err != nil {
		return parsedPayload{malformed: true}
	}
	return parsedPayload{rec: r}
}
