package b64

import (
	"bytes"
	"fmt"
	"testing"
)

var encodings = []struct {
	name string
	enc  *Encoding
}{{"URL", URL}, {"RawStd", RawStd}, {"Std", Std}, {"RawURL", RawURL}}

// TestLikeEncodingBase64 holds segmentio/asm's way (appendDecodeAsm,
// appendEncodeAsm) to encoding/base64 where a decoder is most likely to
// differ: every byte value at every position of encodings of every length
// up to 120 bytes (at every position up to the 48th, then more sparsely),
// across the AVX2 blocks and the tail. The same bytes, or an error from
// both. It found that the URL decoder takes '+' and '/' (see
// appendDecodeAsm). Around short, where the exported methods change ways,
// both must give encoding/base64's result.
func TestLikeEncodingBase64(t *testing.T) {
	for _, p := range encodings {
		t.Run(p.name, func(t *testing.T) {
			for n := 0; n <= 120; n++ {
				src := make([]byte, n)
				for i := range src {
					src[i] = byte(i*131 + n*7)
				}
				enc := p.enc.appendEncodeAsm([]byte("prefix"), src)
				if want := "prefix" + p.enc.std.EncodeToString(src); string(enc) != want {
					t.Fatalf("appendEncodeAsm of %d bytes = %q, want %q", n, enc, want)
				}
				value := enc[len("prefix"):]
				for pos := 0; pos < len(value); pos += 1 + pos/48 {
					for c := range 256 {
						v := bytes.Clone(value)
						v[pos] = byte(c)
						checkDecode(t, p.enc, v)
					}
				}
			}
			for n := short*3/4 - 8; n <= short*3/4+8; n++ {
				src := make([]byte, n)
				for i := range src {
					src[i] = byte(i*131 + n*7)
				}
				want := p.enc.std.EncodeToString(src)
				if got := p.enc.AppendEncode(nil, src); string(got) != want {
					t.Fatalf("AppendEncode of %d bytes = %q, want %q", n, got, want)
				}
				if got := p.enc.EncodeToString(src); got != want {
					t.Fatalf("EncodeToString of %d bytes = %q, want %q", n, got, want)
				}
				checkDecode(t, p.enc, []byte(want))
				for _, c := range []byte{'+', '/', '-', '_', '=', '!'} {
					checkDecode(t, p.enc, append([]byte(want[:len(want)-4]), c, 'A', 'A', 'A'))
				}
				// urlToStd's zero-byte test also marks the byte above a
				// match when it is one more ('^' above '_', ',' above '-'):
				// at every place in an eight-byte word.
				for _, pair := range []string{"_^", "-,", "_^^", "-,,", "__^", "--,"} {
					for at := 0; at < 16; at++ {
						v := []byte(want)
						copy(v[at:], pair)
						checkDecode(t, p.enc, v)
					}
				}
			}
		})
	}
}

// FuzzLikeEncodingBase64 holds both ways to encoding/base64 for any
// input, whatever its length.
func FuzzLikeEncodingBase64(f *testing.F) {
	f.Add([]byte(URL.std.EncodeToString(bytes.Repeat([]byte("sessionproxy"), 20))))
	f.Add([]byte("not base64!"))
	f.Add([]byte("QUJD\r\nREVG"))
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, p := range encodings {
			checkDecode(t, p.enc, v)
			want := p.enc.std.AppendEncode(nil, v)
			if got := p.enc.AppendEncode(nil, v); !bytes.Equal(got, want) {
				t.Fatalf("%s: AppendEncode(%q) = %q, encoding/base64: %q", p.name, v, got, want)
			}
			if got := p.enc.appendEncodeAsm(nil, v); !bytes.Equal(got, want) {
				t.Fatalf("%s: appendEncodeAsm(%q) = %q, encoding/base64: %q", p.name, v, got, want)
			}
		}
	})
}

// checkDecode fails unless AppendDecode and appendDecodeAsm decode v as
// encoding/base64 does.
func checkDecode(t *testing.T, e *Encoding, v []byte) {
	t.Helper()
	want, wantErr := e.std.AppendDecode([]byte("prefix"), v)
	for name, decode := range map[string]func([]byte, []byte) ([]byte, error){
		"AppendDecode": e.AppendDecode, "appendDecodeAsm": e.appendDecodeAsm,
	} {
		got, err := decode([]byte("prefix"), v)
		if (err == nil) != (wantErr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("%s(%q) = %q, %v; encoding/base64: %q, %v", name, v, got, err, want, wantErr)
		}
	}
}

// BenchmarkBase64 decodes values of the secure cookie's sizes with
// segmentio/asm's and encoding/base64's encodings, and encodes them: the
// inner and outer values of a store's cookie (39 and 96 bytes, 52 and 128
// characters) and the outer value of a signed-in user's cookie (520
// bytes, 696 characters), and the inner value of a signed-in user's (352
// bytes, 472 characters). On a CPU where switching between AVX and
// legacy SSE code is slow, segmentio/asm's URL decoder pays for it and
// its standard decoder does not (docs/performance-log.md, "AVX and SSE"):
// URL/decode/asm is the standard decoder after urlToStd, and the
// difference from Std/decode/asm is urlToStd's cost.
func BenchmarkBase64(b *testing.B) {
	for _, size := range []int{39, 96, 352, 520} {
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(i * 7)
		}
		for _, p := range []struct {
			name string
			enc  *Encoding
		}{{"URL", URL}, {"Std", Std}} {
			enc := []byte(p.enc.std.EncodeToString(raw))
			// Room for the translated text too (appendDecodeAsm), as a
			// reused buffer has.
			dst := make([]byte, 0, p.enc.std.DecodedLen(len(enc))+len(enc))
			name := fmt.Sprintf("%d/%s/", size, p.name)
			b.Run(name+"decode/asm", func(b *testing.B) {
				for b.Loop() {
					_, _ = p.enc.appendDecodeAsm(dst, enc)
				}
			})
			b.Run(name+"decode/encoding-base64", func(b *testing.B) {
				for b.Loop() {
					_, _ = p.enc.std.AppendDecode(dst, enc)
				}
			})
			out := make([]byte, 0, len(enc))
			b.Run(name+"encode/asm", func(b *testing.B) {
				for b.Loop() {
					_ = p.enc.appendEncodeAsm(out, raw)
				}
			})
			b.Run(name+"encode/encoding-base64", func(b *testing.B) {
				for b.Loop() {
					_ = p.enc.std.AppendEncode(out, raw)
				}
			})
		}
	}
}
