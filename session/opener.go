package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"sync"
)

// opener verifies and decrypts secure cookie values: the read half of
// gorilla/securecookie (v1.1.2's format: base64url of "date|value|mac",
// the MAC an HMAC-SHA256 of "name|date|value", the value base64url of an
// AES-CTR IV and ciphertext), as a SecureCookie with MaxAge(0) and
// NopEncoder decodes it. securecookie still writes every cookie.
//
// It exists for speed alone. SecureCookie.Decode builds a new HMAC per
// call (a key schedule and four allocations) and allocates for each of its
// steps, about 2.3 KB per cookie, which is a third of what a cold read
// costs the proxy beyond proxying. The opener keys its HMACs once and
// decodes into a pooled buffer. FuzzOpenerLikeSecureCookie holds it to
// securecookie's answers: the same values verify, with the same payload.
type opener struct {
	block cipher.Block
	macs  sync.Pool // *openWork
}

// openWork is one open's HMAC and scratch buffer, pooled together.
type openWork struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxSecureValue is securecookie's default maxLength, which MaxAge(0)
// leaves as it is.
const maxSecureValue = 4096

func newOpener(hashKey, blockKey []byte) (*opener, error) {
	block, err := aes.NewCipher(blockKey)
	if err != nil {
		return nil, err
	}
	o := &opener{block: block}
	o.macs.New = func() any {
		return &openWork{mac: hmac.New(sha256.New, hashKey), buf: make([]byte, 0, 1024)}
	}
	return o, nil
}

// open returns the payload of the cookie name=value, in a new slice of
// its own, and whether value verified.
func (o *opener) open(name, value string) ([]byte, bool) {
	if len(value) > maxSecureValue {
		return nil, false
	}
	w := o.macs.Get().(*openWork)
	defer o.macs.Put(w)
	// One buffer, no conversions: value, then "name|" and the decoded
	// value right after it, so that the MAC's input, "name|date|value",
	// is one slice; then the decoded inner value.
	b := append(w.buf[:0], value...)
	macStart := len(b)
	b = append(b, name...)
	b = append(b, '|')
	outer := len(b)
	enc := base64.URLEncoding
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
	size := o.block.BlockSize()
	if len(v) <= size {
		return nil, false
	}
	payload := make([]byte, len(v)-size)
	cipher.NewCTR(o.block, v[:size]).XORKeyStream(payload, v[size:])
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
