package session

import (
	"bytes"
	stdbase64 "encoding/base64"
	"fmt"
	"testing"

	"github.com/segmentio/asm/base64"
)

// The cookies' encodings, segmentio/asm's and encoding/base64's.
var base64Pairs = []struct {
	name string
	asm  *base64.Encoding
	std  *stdbase64.Encoding
}{
	{"URL", base64.URLEncoding, stdbase64.URLEncoding},          // the secure cookie
	{"RawStd", base64.RawStdEncoding, stdbase64.RawStdEncoding}, // koa's payload
	{"Std", base64.StdEncoding, stdbase64.StdEncoding},
	{"RawURL", base64.RawURLEncoding, stdbase64.RawURLEncoding},
}

// TestBase64LikeEncodingBase64 holds segmentio/asm's way (appendDecodeAsm,
// appendEncodeAsm) to encoding/base64 where a decoder is most likely to
// differ: every byte value at every position of encodings of every length
// up to 120 bytes (at every position up to the 48th, then more sparsely),
// across the AVX2 blocks and the tail. The same bytes, or an error from
// both. It found that the URL decoder takes '+' and '/' (see
// appendDecodeAsm). Around shortBase64, where appendDecode and
// appendEncode change ways, both must give encoding/base64's result.
func TestBase64LikeEncodingBase64(t *testing.T) {
	for _, p := range base64Pairs {
		t.Run(p.name, func(t *testing.T) {
			for n := 0; n <= 120; n++ {
				src := make([]byte, n)
				for i := range src {
					src[i] = byte(i*131 + n*7)
				}
				enc := appendEncodeAsm(p.asm, []byte("prefix"), src)
				if want := "prefix" + p.std.EncodeToString(src); string(enc) != want {
					t.Fatalf("appendEncodeAsm of %d bytes = %q, want %q", n, enc, want)
				}
				value := enc[len("prefix"):]
				for pos := 0; pos < len(value); pos += 1 + pos/48 {
					for c := range 256 {
						v := bytes.Clone(value)
						v[pos] = byte(c)
						checkDecode(t, p.asm, p.std, v)
					}
				}
			}
			for n := shortBase64*3/4 - 8; n <= shortBase64*3/4+8; n++ {
				src := make([]byte, n)
				for i := range src {
					src[i] = byte(i*131 + n*7)
				}
				want := p.std.EncodeToString(src)
				if got := appendEncode(p.asm, nil, src); string(got) != want {
					t.Fatalf("appendEncode of %d bytes = %q, want %q", n, got, want)
				}
				if got := encodeToString(p.asm, src); got != want {
					t.Fatalf("encodeToString of %d bytes = %q, want %q", n, got, want)
				}
				checkDecode(t, p.asm, p.std, []byte(want))
				for _, c := range []byte{'+', '/', '-', '_', '=', '!'} {
					checkDecode(t, p.asm, p.std, append([]byte(want[:len(want)-4]), c, 'A', 'A', 'A'))
				}
			}
		})
	}
}

// FuzzBase64LikeEncodingBase64 holds appendDecode and appendEncode, and
// segmentio/asm's way whatever the length, to encoding/base64 for any
// input.
func FuzzBase64LikeEncodingBase64(f *testing.F) {
	f.Add([]byte(stdbase64.URLEncoding.EncodeToString(bytes.Repeat([]byte("sessionproxy"), 20))))
	f.Add([]byte("not base64!"))
	f.Add([]byte("QUJD\r\nREVG"))
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, p := range base64Pairs {
			checkDecode(t, p.asm, p.std, v)
			want := p.std.AppendEncode(nil, v)
			if got := appendEncode(p.asm, nil, v); !bytes.Equal(got, want) {
				t.Fatalf("%s: appendEncode(%q) = %q, encoding/base64: %q", p.name, v, got, want)
			}
			if got := appendEncodeAsm(p.asm, nil, v); !bytes.Equal(got, want) {
				t.Fatalf("%s: appendEncodeAsm(%q) = %q, encoding/base64: %q", p.name, v, got, want)
			}
		}
	})
}

// checkDecode fails unless appendDecode and appendDecodeAsm decode v as
// encoding/base64 does.
func checkDecode(t *testing.T, asm *base64.Encoding, std *stdbase64.Encoding, v []byte) {
	t.Helper()
	want, wantErr := std.AppendDecode([]byte("prefix"), v)
	for name, decode := range map[string]func(*base64.Encoding, []byte, []byte) ([]byte, error){
		"appendDecode": appendDecode, "appendDecodeAsm": appendDecodeAsm,
	} {
		got, err := decode(asm, []byte("prefix"), v)
		if (err == nil) != (wantErr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("%s(%q) = %q, %v; encoding/base64: %q, %v", name, v, got, err, want, wantErr)
		}
	}
}

// BenchmarkBase64 decodes values of the secure cookie's sizes with
// segmentio/asm's and encoding/base64's encodings, and encodes them: the
// inner and outer values of a store's cookie (39 and 96 bytes, 52 and 128
// characters) and the outer value of a signed-in user's cookie (520
// bytes, 696 characters). On a CPU where switching between AVX and
// legacy SSE code is slow, segmentio/asm's URL decoder pays for it and
// its standard decoder does not: compare decode/URL/asm with
// decode/Std/asm (docs/performance.md, "AVX and SSE").
func BenchmarkBase64(b *testing.B) {
	for _, size := range []int{39, 96, 520} {
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(i * 7)
		}
		for _, p := range base64Pairs {
			if p.name != "URL" && p.name != "Std" {
				continue
			}
			enc := []byte(p.std.EncodeToString(raw))
			dst := make([]byte, 0, p.std.DecodedLen(len(enc)))
			name := fmt.Sprintf("%d/%s/", size, p.name)
			b.Run(name+"decode/asm", func(b *testing.B) {
				for b.Loop() {
					_, _ = appendDecode(p.asm, dst, enc)
				}
			})
			b.Run(name+"decode/encoding-base64", func(b *testing.B) {
				for b.Loop() {
					_, _ = p.std.AppendDecode(dst, enc)
				}
			})
			out := make([]byte, 0, len(enc))
			b.Run(name+"encode/asm", func(b *testing.B) {
				for b.Loop() {
					_ = appendEncode(p.asm, out, raw)
				}
			})
			b.Run(name+"encode/encoding-base64", func(b *testing.B) {
				for b.Loop() {
					_ = p.std.AppendEncode(out, raw)
				}
			})
		}
	}
}
