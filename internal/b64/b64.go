// Package b64 is the base64 of sessionproxy's cookies and tokens:
// encoding/base64's results, byte for byte, including what it refuses,
// computed by segmentio/asm's AVX2 encoder and decoder when the value is
// long and by encoding/base64 when it is short.
//
// On a signed-in user's secure cookie (a 696-character value holding a
// 470-character one) segmentio/asm's decode in a quarter to three
// quarters of encoding/base64's time, depending on the CPU, and a cold
// read decodes both on every request. But segmentio/asm's AVX2 code has
// a fixed cost, and on a CPU where switching between AVX and legacy SSE
// code is slow it is most of the cost: its URL decoder took 400-450 ns
// for 52 characters (a store cookie's inner value) where encoding/base64
// took 56-60, and its encoder 190-220 ns for 39 bytes against 54-65. At
// 696 characters segmentio/asm's is still the faster, 560 against
// 740-790 ns (BenchmarkBase64; docs/performance.md, "AVX and SSE").
//
// TestLikeEncodingBase64 and FuzzLikeEncodingBase64 hold both ways to
// encoding/base64.
package b64

import (
	"bytes"
	stdbase64 "encoding/base64"
	"errors"
	"slices"

	asmbase64 "github.com/segmentio/asm/base64"
)

// short is the length of base64 text below which encoding/base64 does
// the work: a store's cookie (52 and 128 characters), a small session's
// cookie (about 130 and 240), a token's signature (43).
const short = 256

// Encoding is one of the base64 encodings, with both implementations.
type Encoding struct {
	asm *asmbase64.Encoding
	std *stdbase64.Encoding
}

// The encodings sessionproxy uses.
var (
	URL    = &Encoding{asmbase64.URLEncoding, stdbase64.URLEncoding}       // the secure cookie
	RawURL = &Encoding{asmbase64.RawURLEncoding, stdbase64.RawURLEncoding} // the token
	Std    = &Encoding{asmbase64.StdEncoding, stdbase64.StdEncoding}       // koa's cookie
	RawStd = &Encoding{asmbase64.RawStdEncoding, stdbase64.RawStdEncoding}
)

// EncodedLen returns the length of the encoding of n bytes.
func (e *Encoding) EncodedLen(n int) int { return e.std.EncodedLen(n) }

// AppendEncode appends the encoding of src to dst, as encoding/base64's
// AppendEncode does. src may be part of dst.
func (e *Encoding) AppendEncode(dst, src []byte) []byte {
	if e.std.EncodedLen(len(src)) < short {
		return e.std.AppendEncode(dst, src)
	}
	return e.appendEncodeAsm(dst, src)
}

// EncodeToString returns the encoding of src, as encoding/base64's
// EncodeToString does.
func (e *Encoding) EncodeToString(src []byte) string {
	if e.std.EncodedLen(len(src)) < short {
		return e.std.EncodeToString(src)
	}
	return e.asm.EncodeToString(src)
}

// AppendDecode appends the decoding of src to dst, as encoding/base64's
// AppendDecode does. src may be part of dst, before its end.
func (e *Encoding) AppendDecode(dst, src []byte) ([]byte, error) {
	if len(src) < short {
		return e.std.AppendDecode(dst, src)
	}
	return e.appendDecodeAsm(dst, src)
}

func (e *Encoding) appendEncodeAsm(dst, src []byte) []byte {
	n := e.asm.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	e.asm.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

func (e *Encoding) appendDecodeAsm(dst, src []byte) ([]byte, error) {
	if (e == URL || e == RawURL) && (bytes.IndexByte(src, '+') >= 0 || bytes.IndexByte(src, '/') >= 0) {
		// segmentio/asm's URL decoder also takes the standard alphabet's
		// two characters (v1.2.1), which encoding/base64 refuses: a
		// value written with them is not the one that was issued.
		return dst, errNotURLBase64
	}
	n := e.asm.DecodedLen(len(src))
	dst = slices.Grow(dst, n)
	m, err := e.asm.Decode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+m], err
}

var errNotURLBase64 = errors.New("base64: '+' or '/' in base64url")
