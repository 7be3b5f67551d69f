package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"
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

// readResult is what a codec found in a request.
type readResult struct {
	payload []byte // the verified payload; nil when none
	found   bool   // the client sent the session cookie
	reject  string // a Reject* reason when found but not verified
	resign  bool   // verified by an older key: re-issue the signature
	// For FormatKoa's repair:
	value    string // the cookie's value as sent
	clearSig bool   // a .sig cookie matched no key: clear it
}

// codec keeps the session cookie's value from being read or forged.
type codec interface {
	// read returns the verified payload of the cookie named name.
	read(r *http.Request, name string) readResult
	// write appends the Set-Cookie headers that carry payload, with the
	// attributes of c (whose Name is the cookie name).
	write(h http.Header, c http.Cookie, payload []byte) error
	// expire appends the Set-Cookie headers that delete the cookie.
	expire(h http.Header, c http.Cookie)
	// repair appends what the client needs when the session itself is not
	// saved: a koa signature re-issued with the current key, or a .sig
	// cookie that matched no key cleared.
	repair(h http.Header, c http.Cookie, rr readResult)
}

// secureCodec is FormatSecure: gorilla/securecookie's format (AES-256-CTR
// with a random IV, then HMAC-SHA256 over "name|date|value", in URL-safe
// base64), implemented here with one AES cipher per key made at start-up
// and pooled HMACs, since securecookie builds both for every cookie. The
// tests hold it to securecookie itself, both ways.
type secureCodec struct {
	keys []*secureKey // the first encrypts, all decrypt
}

// secureKey is one key's halves.
type secureKey struct {
	block cipher.Block
	macs  sync.Pool // hash.Hash: HMAC-SHA256 with the hash key
}

// The HKDF infos that derive a key's halves from each of Options.Keys.
const (
	hashKeyInfo  = "sessionproxy secure cookie: hmac-sha256"
	blockKeyInfo = "sessionproxy secure cookie: aes-256"
)

// maxSecureCookie is securecookie's default maxLength: longer values are
// neither encoded nor decoded.
const maxSecureCookie = 4096

func newSecureCodec(keys []string) (*secureCodec, error) {
	c := &secureCodec{}
	for i, k := range keys {
		hashKey, err := hkdf.Key(sha256.New, []byte(k), nil, hashKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		blockKey, err := hkdf.Key(sha256.New, []byte(k), nil, blockKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		block, err := aes.NewCipher(blockKey)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		sk := &secureKey{block: block}
		sk.macs.New = func() any { return hmac.New(sha256.New, hashKey) }
		c.keys = append(c.keys, sk)
	}
	return c, nil
}

// sum appends the HMAC of msg to dst.
func (k *secureKey) sum(dst, msg []byte) []byte {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	dst = h.Sum(dst)
	k.macs.Put(h)
	return dst
}

func (c *secureCodec) read(r *http.Request, name string) readResult {
	ck, err := r.Cookie(name)
	if err != nil {
		return readResult{}
	}
	payload, ok := c.decode(name, ck.Value)
	if !ok {
		return readResult{found: true, reject: RejectTampered}
	}
	return readResult{payload: payload, found: true}
}

// decode returns the payload of a cookie value that one of the keys
// authenticates, as securecookie.DecodeMulti does with MaxAge(0).
func (c *secureCodec) decode(name, value string) ([]byte, bool) {
	enc := base64.URLEncoding
	if len(value) > maxSecureCookie {
		return nil, false
	}
	// One buffer: "name|" and the decoded value, which is "date|value|mac"
	// (the MAC covers "name|date|value"), then room for the payload.
	n := len(name) + 1 + enc.DecodedLen(len(value))
	buf := append(make([]byte, 0, 2*n), name...)
	buf = append(buf, '|')
	buf, err := enc.AppendDecode(buf, []byte(value))
	if err != nil {
		return nil, false
	}
	b := buf[len(name)+1:]
	i := bytes.IndexByte(b, '|')
	if i < 0 {
		return nil, false
	}
	j := bytes.IndexByte(b[i+1:], '|')
	if j < 0 {
		return nil, false
	}
	j += i + 1
	var sum [sha256.Size]byte
	for _, k := range c.keys {
		if !hmac.Equal(k.sum(sum[:0], buf[:len(name)+1+j]), b[j+1:]) {
			continue
		}
		if _, err := strconv.ParseInt(string(b[:i]), 10, 64); err != nil {
			return nil, false
		}
		v, err := enc.AppendDecode(buf[len(buf):], b[i+1:j])
		if err != nil || len(v) <= aes.BlockSize {
			return nil, false
		}
		iv, text := v[:aes.BlockSize], v[aes.BlockSize:]
		cipher.NewCTR(k.block, iv).XORKeyStream(text, text)
		return text, true
	}
	return nil, false
}

// encode returns the cookie value carrying payload, as
// securecookie.EncodeMulti does with the first key.
func (c *secureCodec) encode(name string, payload []byte, now time.Time) (string, error) {
	k, enc := c.keys[0], base64.URLEncoding
	v := make([]byte, aes.BlockSize+len(payload))
	iv := v[:aes.BlockSize]
	_, _ = rand.Read(iv) // crypto/rand.Read never fails (Go 1.24+)
	cipher.NewCTR(k.block, iv).XORKeyStream(v[aes.BlockSize:], payload)

	// "name|date|value|" and the MAC of "name|date|value"; the cookie
	// value is all but "name|", base64.
	msg := make([]byte, 0, len(name)+24+enc.EncodedLen(len(v))+sha256.Size)
	msg = append(msg, name...)
	msg = append(msg, '|')
	msg = strconv.AppendInt(msg, now.Unix(), 10)
	msg = append(msg, '|')
	msg = enc.AppendEncode(msg, v)
	msg = k.sum(append(msg, '|'), msg)
	out := enc.EncodeToString(msg[len(name)+1:])
	if len(out) > maxSecureCookie {
		return "", fmt.Errorf("secure cookie: the session is too large for a cookie (%d bytes encoded, at most %d)", len(out), maxSecureCookie)
	}
	return out, nil
}

func (c *secureCodec) write(h http.Header, ck http.Cookie, payload []byte) error {
	v, err := c.encode(ck.Name, payload, time.Now())
	if err != nil {
		return err
	}
	ck.Value = v
	h.Add("Set-Cookie", ck.String())
	return nil
}

func (c *secureCodec) expire(h http.Header, ck http.Cookie) {
	h.Add("Set-Cookie", expired(ck).String())
}

func (c *secureCodec) repair(http.Header, http.Cookie, readResult) {}

// expired returns c changed to delete the cookie, as koa-session does:
// an empty value that expired at the epoch.
func expired(c http.Cookie) *http.Cookie {
	c.Value = ""
	c.Expires = time.Unix(0, 0)
	c.MaxAge = 0
	return &c
}
