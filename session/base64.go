package session

import (
	"bytes"
	stdbase64 "encoding/base64"
	"errors"
	"slices"

	"github.com/segmentio/asm/base64"
)

// The cookies' base64 goes through segmentio/asm's encoder and decoder
// (encoding/base64's, with AVX2 for all but the last few bytes of a value,
// and encoding/base64 itself where the CPU has no AVX2) when the value is
// long, and through encoding/base64 when it is short (shortBase64). On a
// signed-in user's secure cookie (a 900-byte value holding a 450-byte
// one) segmentio/asm's decode in a quarter to three quarters of
// encoding/base64's time, depending on the CPU, and a cold read decodes
// both on every request. The result is encoding/base64's, byte for byte,
// including what it refuses (see appendDecodeAsm):
// TestBase64LikeEncodingBase64 and FuzzBase64LikeEncodingBase64 hold both
// ways to encoding/base64, and FuzzOpenLikeSecureCookie and
// FuzzSealLikeSecureCookie the secure cookie to gorilla/securecookie.

// shortBase64 is the length of base64 text below which encoding/base64
// does the work: a store's cookie (52 and 128 characters) and a small
// session's (about 130 and 240). segmentio/asm's AVX2 code has a fixed
// cost, and on a CPU where switching between AVX and legacy SSE code is
// slow it is most of the cost: its URL decoder took 400-450 ns for 52
// characters where encoding/base64 took 56-60, and its encoder 190-220
// ns for 39 bytes against 54-65. At 696 characters (a signed-in user's
// cookie) segmentio/asm's is still the faster, 560 against 740-790 ns
// (BenchmarkBase64; docs/performance.md, "AVX and SSE").
const shortBase64 = 256

// appendEncode appends the encoding of src to dst, as
// encoding/base64's AppendEncode does. src may be part of dst.
func appendEncode(enc *base64.Encoding, dst, src []byte) []byte {
	if enc.EncodedLen(len(src)) < shortBase64 {
		return stdlib(enc).AppendEncode(dst, src)
	}
	return appendEncodeAsm(enc, dst, src)
}

// appendDecode appends the decoding of src to dst, as encoding/base64's
// AppendDecode does. src may be part of dst, before its end.
func appendDecode(enc *base64.Encoding, dst, src []byte) ([]byte, error) {
	if len(src) < shortBase64 {
		return stdlib(enc).AppendDecode(dst, src)
	}
	return appendDecodeAsm(enc, dst, src)
}

// encodeToString returns the encoding of src, as encoding/base64's
// EncodeToString does.
func encodeToString(enc *base64.Encoding, src []byte) string {
	if enc.EncodedLen(len(src)) < shortBase64 {
		return stdlib(enc).EncodeToString(src)
	}
	return enc.EncodeToString(src)
}

// stdlib returns encoding/base64's encoding of enc.
func stdlib(enc *base64.Encoding) *stdbase64.Encoding {
	switch enc {
	case base64.URLEncoding:
		return stdbase64.URLEncoding
	case base64.RawURLEncoding:
		return stdbase64.RawURLEncoding
	case base64.StdEncoding:
		return stdbase64.StdEncoding
	case base64.RawStdEncoding:
		return stdbase64.RawStdEncoding
	}
	panic("session: no encoding/base64 encoding for this segmentio/asm one")
}

// appendEncodeAsm is appendEncode with segmentio/asm's encoder.
func appendEncodeAsm(enc *base64.Encoding, dst, src []byte) []byte {
	n := enc.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	enc.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// appendDecodeAsm is appendDecode with segmentio/asm's decoder.
func appendDecodeAsm(enc *base64.Encoding, dst, src []byte) ([]byte, error) {
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
