package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"strconv"
	"sync"

	"github.com/sessionproxy/sessionproxy/internal/b64"
)

// secureKey seals and opens secure cookie values under one key, in
// gorilla/securecookie's format (v1.1.2: base64url of "date|value|mac",
// the MAC an HMAC-SHA256 of "name|date|value", the value base64url of an
// AES-CTR IV and ciphertext), as a SecureCookie with MaxAge(0) and
// NopEncoder encodes and decodes them. A cookie it writes is a
// securecookie cookie: any SecureCookie with the same keys reads it.
//
// It exists for speed alone. SecureCookie builds a new HMAC per call (a
// key schedule and four allocations) and allocates for each of its steps:
// about 2.3 KB to decode a cookie and 3.2 KB to encode one, a third of
// what a cold read and most of what a write would cost the proxy beyond
// proxying. secureKey keys its HMAC once and works in a pooled buffer. FuzzOpenLikeSecureCookie and FuzzSealLikeSecureCookie hold it to
// securecookie's answers both ways.
type secureKey struct {
	block cipher.Block
	macs  sync.Pool // *keyWork
}

// keyWork is one seal's or open's HMAC and scratch buffer, pooled together.
type keyWork struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxSecureValue is securecookie's default maxLength, which MaxAge(0)
// leaves as it is.
const maxSecureValue = 4096

// keyWorkBuf is a keyWork's first buffer: room for opening a signed-in
// user's cookie (about 700 characters) without growing it. open holds
// the value, its decoding and the inner value's, and b64 translates each
// base64url text after its decoding (internal/b64): about 2.8 KB.
const keyWorkBuf = 4096

func newSecureKey(hashKey, blockKey []byte) (*secureKey, error) {
	block, err := aes.NewCipher(blockKey)
	if err != nil {
		return nil, err
	}
	k := &secureKey{block: block}
	k.macs.New = func() any {
		return &keyWork{mac: hmac.New(sha256.New, hashKey), buf: make([]byte, 0, keyWorkBuf)}
	}
	return k, nil
}

// seal returns the value of the cookie name holding payload, dated now
// (Unix seconds), or an error if it is longer than securecookie allows.
func (k *secureKey) seal(name string, payload []byte, now int64) (string, error) {
	var v string
	err := k.sealTo(name, payload, now, func(b []byte) { v = string(b) })
	return v, err
}

// sealTo is seal handing the value to use, in a buffer that is valid only
// during the call: the writer copies it straight into the Set-Cookie
// line, one copy and one allocation fewer than a string of its own.
func (k *secureKey) sealTo(name string, payload []byte, now int64, use func(value []byte)) error {
	// Its length is known before any work, so a payload too large costs
	// none, and leaves no large buffer in the pool.
	size := k.block.BlockSize()
	var date [20]byte
	enc := b64.URL
	inner := enc.EncodedLen(size + len(payload))
	if n := enc.EncodedLen(len(strconv.AppendInt(date[:0], now, 10)) + 1 + inner + 1 + sha256.Size); n > maxSecureValue {
		return fmt.Errorf("the value would be %d bytes, over securecookie's %d", n, maxSecureValue)
	}
	w := k.macs.Get().(*keyWork)
	defer k.macs.Put(w)
	// One buffer: IV and ciphertext; then "name|date|" and the inner
	// value, base64url of the first part, so that the MAC's input is one
	// slice; "|" and the MAC after it; then the outer value, base64url of
	// "date|value|mac".
	b := w.buf[:0]
	b = append(b, make([]byte, size+len(payload))...)
	iv := b[:size]
	rand.Read(iv) // never fails (crypto/rand since Go 1.24)
	cipher.NewCTR(k.block, iv).XORKeyStream(b[size:], payload)
	macStart := len(b)
	b = append(b, name...)
	b = append(b, '|')
	dateStart := len(b)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, '|')
	b = enc.AppendEncode(b, b[:macStart])
	w.mac.Reset()
	w.mac.Write(b[macStart:])
	b = append(b, '|')
	b = w.mac.Sum(b)
	outer := len(b)
	b = enc.AppendEncode(b, b[dateStart:outer])
	w.buf = b[:0]
	use(b[outer:])
	return nil
}

// open returns the payload of the cookie name=value, in a new slice of
// its own, and whether value verified.
func (k *secureKey) open(name, value string) ([]byte, bool) {
	if len(value) > maxSecureValue {
		return nil, false
	}
	w := k.macs.Get().(*keyWork)
	defer k.macs.Put(w)
	// One buffer, no conversions: value, then "name|" and the decoded
	// value right after it, so that the MAC's input, "name|date|value",
	// is one slice; then the decoded inner value.
	b := append(w.buf[:0], value...)
	macStart := len(b)
	b = append(b, name...)
	b = append(b, '|')
	outer := len(b)
	enc := b64.URL
	b, err := enc.AppendDecode(b, b[:macStart])
	w.buf = b[:0]
	if err != nil {
		return nil, false
	}
	// "date|value|mac"; the MAC may itself contain '|'.
	d := b[outer:]
	i := bytes.IndexByte(d, '|')
	if i < 0 {
		return nil, false
	}
	j := bytes.IndexByte(d[i+1:], '|')
	if j < 0 {
		return nil, false
	}
	j += i + 1
	date, val, mac := d[:i], d[i+1:j], d[j+1:]
	w.mac.Reset()
	w.mac.Write(b[macStart : outer+j])
	if !hmac.Equal(mac, w.mac.Sum(w.sum[:0])) {
		return nil, false
	}
	if !validTimestamp(date) {
		return nil, false
	}
	start := len(b)
	b, err = enc.AppendDecode(b, val)
	w.buf = b[:0]
	if err != nil {
		return nil, false
	}
	v := b[start:]
	size := k.block.BlockSize()
	if len(v) <= size {
		return nil, false
	}
	payload := make([]byte, len(v)-size)
	cipher.NewCTR(k.block, v[:size]).XORKeyStream(payload, v[size:])
	return payload, true
}

// validTimestamp reports whether b is what securecookie accepts as the
// value's timestamp: any int64 in base 10 (it checks no range with
// MaxAge(0)).
func validTimestamp(b []byte) bool {
	digits := b
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		// Empty, or long enough to overflow: strconv decides.
		_, err := strconv.ParseInt(string(b), 10, 64)
		return err == nil
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
