package session

import (
	"bytes"
	"errors"
	"slices"

	"github.com/segmentio/asm/base64"
)

// The cookies' base64 goes through segmentio/asm's encoder and decoder:
// encoding/base64's, with AVX2 for all but the last few bytes of a value
// (and encoding/base64 itself where the CPU has no AVX2). On a signed-in
// user's secure cookie (a 900-byte value holding a 450-byte one) they
// decode in about a quarter of encoding/base64's time, and a cold read
// decodes both on every request. The result is encoding/base64's, byte
// for byte, including what it refuses (see appendDecode):
// TestBase64LikeEncodingBase64 and FuzzBase64LikeEncodingBase64 hold the
// helpers to encoding/base64, and FuzzOpenLikeSecureCookie and
// FuzzSealLikeSecureCookie the secure cookie to gorilla/securecookie.

// appendEncode appends the encoding of src to dst, as
// encoding/base64's AppendEncode does. src may be part of dst.
func appendEncode(enc *base64.Encoding, dst, src []byte) []byte {
	n := enc.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	enc.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// appendDecode appends the decoding of src to dst, as encoding/base64's
// AppendDecode does. src may be part of dst, before its end.
func appendDecode(enc *base64.Encoding, dst, src []byte) ([]byte, error) {
	if (enc == base64.URLEncoding || enc == base64.RawURLEncoding) && (bytes.IndexByte(src, '+') >= 0 || bytes.IndexByte(src, '/') >= 0) {
		// segmentio/asm's URL decoder also takes the standard alphabet's
		// two characters (v1.2.1), which encoding/base64 refuses: a
		// value written with them is not the one that was issued.
		return dst, errNotURLBase64
	}
	n := enc.DecodedLen(len(src))
	dst = slices.Grow(dst, n)
	m, err := enc.Decode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+m], err
}

var errNotURLBase64 = errors.New("base64: '+' or '/' in base64url")
