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
// 740-790 ns (BenchmarkBase64; docs/performance-log.md, "AVX and SSE").
//
// Its standard decoder switches once, before any AVX code, and does not
// pay; its URL decoder switches three times. So base64url is decoded as
// standard base64: the text is copied with '-' and '_' made '+' and '/'
// (urlToStd, eight bytes at a time), and segmentio/asm's standard
// decoder decodes the copy. At 472 and 696 characters that takes 146 and
// 200 ns where the URL decoder took 245 and 260 (BenchmarkBase64's
// URL/decode/asm rows).
//
// TestLikeEncodingBase64 and FuzzLikeEncodingBase64 hold both ways to
// encoding/base64.
package b64

import (
	"bytes"
	stdbase64 "encoding/base64"
	"encoding/binary"
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
	// decodeAsStd, for a base64url encoding, is segmentio/asm's standard
	// encoding with the same padding, which decodes the text once
	// urlToStd has translated it (see the package's doc).
	decodeAsStd *asmbase64.Encoding
}

// The encodings sessionproxy uses.
var (
	URL    = &Encoding{asmbase64.URLEncoding, stdbase64.URLEncoding, asmbase64.StdEncoding}          // the secure cookie
	RawURL = &Encoding{asmbase64.RawURLEncoding, stdbase64.RawURLEncoding, asmbase64.RawStdEncoding} // the token
	Std    = &Encoding{asmbase64.StdEncoding, stdbase64.StdEncoding, nil}                            // koa's cookie
	RawStd = &Encoding{asmbase64.RawStdEncoding, stdbase64.RawStdEncoding, nil}
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
	n := e.asm.DecodedLen(len(src))
	if e.decodeAsStd == nil {
		dst = slices.Grow(dst, n)
		m, err := e.asm.Decode(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+m], err
	}
	if bytes.IndexByte(src, '+') >= 0 || bytes.IndexByte(src, '/') >= 0 {
		// The standard alphabet's two characters, which encoding/base64
		// refuses in base64url: a value written with them is not the one
		// that was issued. (segmentio/asm's URL decoder takes them too,
		// in v1.2.1.)
		return dst, errNotURLBase64
	}
	// The decoded bytes, then the translated text, after dst's end:
	// src may be part of dst, before it.
	dst = slices.Grow(dst, n+len(src))
	out := dst[len(dst) : len(dst)+n]
	text := dst[len(dst)+n : len(dst)+n+len(src)]
	urlToStd(text, src)
	m, err := e.decodeAsStd.Decode(out, text)
	return dst[:len(dst)+m], err
}

var errNotURLBase64 = errors.New("base64: '+' or '/' in base64url")

// urlToStd copies src, base64url text without '+' and '/', to dst (as
// long), with '-' made '+' and '_' made '/': standard base64 that decodes
// to the same bytes, and fails where src would fail. It works on eight
// bytes at a time, as one uint64 (fromURL).
func urlToStd(dst, src []byte) {
	dst = dst[:len(src)]
	n := len(src) &^ 15
	for i := 0; i < n; i += 16 {
		s, d := src[i:i+16:i+16], dst[i:i+16:i+16]
		binary.LittleEndian.PutUint64(d, fromURL(binary.LittleEndian.Uint64(s)))
		binary.LittleEndian.PutUint64(d[8:], fromURL(binary.LittleEndian.Uint64(s[8:])))
	}
	for i := n; i < len(src); i++ {
		switch c := src[i]; c {
		case '-':
			dst[i] = '+'
		case '_':
			dst[i] = '/'
		default:
			dst[i] = c
		}
	}
}

// fromURL is urlToStd of eight bytes. It finds the bytes equal to '_'
// and '-' with the zero-byte test of x^c, which also marks a byte one
// more than c right above a match (a borrow): '^' above '_', ',' above
// '-'. Those are made '.' and '*': invalid both before and after, at the
// same place, so decoding fails as it would have. No subtraction borrows
// across bytes.
func fromURL(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	u := x ^ ('_' * ones)
	under := (u - ones) &^ u & highs // 0x80 in each '_' byte
	v := x ^ ('-' * ones)
	dash := (v - ones) &^ v & highs // 0x80 in each '-' byte
	// '_' - '/' is 0x30 (0x80>>3 | 0x80>>2), '-' - '+' is 2 (0x80>>6).
	return x - (under>>3 | under>>2) - dash>>6
}
