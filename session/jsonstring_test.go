package session

import (
	"encoding/json"
	"regexp"
	"testing"
)

// A lone surrogate, which JavaScript strings hold (one cut inside an
// emoji) and JSON.stringify writes as an escape, survives the proxy's
// writes: encoding/json would have made it U+FFFD.
func TestLoneSurrogatesSurviveAMerge(t *testing.T) {
	for _, tc := range []struct{ name, doc, patch, want string }{
		{"kept beside a change", `{"n":"ab\ud83d","x":1}`, `{"p":1}`, `{"n":"ab\ud83d","p":1,"x":1}`},
		{"upper-case hex, written as JSON.stringify writes it", `{"n":"\uD83D"}`, `{"p":1}`, `{"n":"\ud83d","p":1}`},
		{"a low one alone", `{"n":"\ude00x"}`, `{"p":1}`, `{"n":"\ude00x","p":1}`},
		{"two high ones", `{"n":"\ud83d\ud83d"}`, `{"p":1}`, `{"n":"\ud83d\ud83d","p":1}`},
		{"a pair is the character", `{"n":"\ud83d\ude00"}`, `{"p":1}`, `{"n":"😀","p":1}`},
		{"in a key", `{"\udc00":1}`, `{"p":1}`, `{"p":1,"\udc00":1}`},
		{"in the patch", `{}`, `{"n":"\ud800"}`, `{"n":"\ud800"}`},
		{"nested", `{"a":{"s":["\ud83d"]}}`, `{"a":{"t":1}}`, `{"a":{"s":["\ud83d"],"t":1}}`},
		{"invalid UTF-8 still becomes U+FFFD", "{\"n\":\"a\xff\"}", `{"p":1}`, "{\"n\":\"a\uFFFD\",\"p\":1}"},
		{"raw bytes of a surrogate are invalid UTF-8", "{\"n\":\"\xed\xa0\x80\"}", `{"p":1}`, "{\"n\":\"\uFFFD\uFFFD\uFFFD\",\"p\":1}"},
		{"escapes as encoding/json writes them", `{"n":"\u0041\b\f\n\r\t\u0001\"\\\/\u2028<>&é"}`, `{"p":1}`, `{"n":"A\b\f\n\r\t\u0001\"\\/\u2028<>&é","p":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergePatch([]byte(tc.doc), []byte(tc.patch))
			if err != nil || string(got) != tc.want {
				t.Errorf("MergePatch(%s, %s) = %s, %v; want %s", tc.doc, tc.patch, got, err, tc.want)
			}
			// Merging again changes nothing: a read that writes the
			// session back does not rewrite it.
			if _, changed, err := mergePatches(got, [][]byte{got}); err != nil || changed {
				t.Errorf("merging %s into itself: changed %v, %v", got, changed, err)
			}
		})
	}
}

// surrogateEscape finds a surrogate escape (a lone one, or half of a
// pair), where the merge keeps what encoding/json would replace.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// likeEncodingJSON reports whether the merge of b must match encoding/json
// byte for byte: unless it holds a surrogate escape.
func likeEncodingJSON(b ...[]byte) bool {
	for _, x := range b {
		if surrogateEscape.Match(x) {
			return false
		}
	}
	return true
}

// FuzzAppendStringLikeEncodingJSON holds appendString to encoding/json for
// any string without the surrogates unquote keeps, and unquote to
// json.Unmarshal for any JSON string without a surrogate escape.
func FuzzAppendStringLikeEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "abc", "é\u2028\u2029<>&\"\\\x00\x1f\x7f", "a\xffb", "\xed\xa0\x80", "😀", "\t\n\r\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := marshalJSON(s)
		got := appendString(nil, s)
		if isSurrogateFree(s) && string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("appendString(%q) = %s, not JSON", s, got)
		}
		// unquote reads back what appendString wrote.
		if back := unquote(got[1 : len(got)-1]); string(back) != string(unquote(want[1:len(want)-1])) && isSurrogateFree(s) {
			t.Fatalf("unquote(%s) = %q", got, back)
		}
		var ref string
		if json.Unmarshal(want, &ref) == nil && !surrogateEscape.Match(want) {
			if back := unquote(want[1 : len(want)-1]); string(back) != ref {
				t.Fatalf("unquote(%s) = %q, json.Unmarshal %q", want, back, ref)
			}
		}
	})
}

// isSurrogateFree reports whether s holds none of the surrogates unquote
// keeps.
func isSurrogateFree(s string) bool {
	for i := range len(s) {
		if isSurrogateAt(s, i) {
			return false
		}
	}
	return true
}
