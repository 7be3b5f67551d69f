package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// mergePatchReference is MergePatch done with encoding/json throughout,
// which the hand-written decoding and encoding must match byte for byte.
func mergePatchReference(doc, patch []byte) ([]byte, error) {
	for _, b := range [][]byte{doc, patch} {
		if json.Valid(b) && tooDeep(b) {
			return nil, errTooDeep // the proxy's bound, which encoding/json does not have
		}
	}
	d, err := decodeObjectSlowly(doc)
	if err != nil {
		return nil, err
	}
	p, err := decodeObjectSlowly(patch)
	if err != nil {
		return nil, err
	}
	return marshalJSON(mergeObject(d, p))
}

func TestMergePatchesChanged(t *testing.T) {
	tests := []struct {
		name, doc string
		patches   []string
		want      string
		changed   bool
	}{
		{"same value", `{"a":1,"b":{"c":2}}`, []string{`{"a":1}`}, `{"a":1,"b":{"c":2}}`, false},
		{"same nested value, other order", `{"b":{"d":1,"c":2},"a":1}`, []string{`{"b":{"c":2}}`}, `{"a":1,"b":{"c":2,"d":1}}`, false},
		{"new value", `{"a":1}`, []string{`{"a":2}`}, `{"a":2}`, true},
		{"set then reset", `{"a":1}`, []string{`{"a":2}`, `{"a":1}`}, `{"a":1}`, false},
		{"delete missing", `{"a":1}`, []string{`{"b":null}`}, `{"a":1}`, false},
		{"in order", `{}`, []string{`{"a":1}`, `{"a":null,"b":2}`}, `{"b":2}`, true},
		{"delete only", `{"a":1,"b":2}`, []string{`{"a":null}`}, `{"b":2}`, true},
		{"same string, other escapes", `{"a":"\u0041"}`, []string{`{"a":"A"}`}, `{"a":"A"}`, false},
		{"same array, other spacing", `{"a":[1, {"y":2,"x":1}]}`, []string{`{"a":[1,{"x":1,"y":2}]}`}, `{"a":[1,{"x":1,"y":2}]}`, false},
		{"same object, nested", `{"a":{"x":1}}`, []string{`{"a":{"x":1}}`}, `{"a":{"x":1}}`, false},
		{"a value becomes an object", `{"a":1}`, []string{`{"a":{}}`}, `{"a":{}}`, true},
		{"a new empty object", `{}`, []string{`{"a":{"x":null}}`}, `{"a":{}}`, true},
		{"a nested delete", `{"a":{"x":1,"y":2}}`, []string{`{"a":{"x":null}}`}, `{"a":{"y":2}}`, true},
		{"a nested delete of nothing", `{"a":{"y":2}}`, []string{`{"a":{"x":null}}`}, `{"a":{"y":2}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps [][]byte
			for _, p := range tc.patches {
				ps = append(ps, []byte(p))
			}
			got, changed, err := mergePatches([]byte(tc.doc), ps)
			if err != nil || string(got) != tc.want || changed != tc.changed {
				t.Errorf("mergePatches = %s, %v, %v; want %s, %v", got, changed, err, tc.want, tc.changed)
			}
		})
	}
	if _, _, err := mergePatches([]byte(`{}`), [][]byte{[]byte(`{"a":1}`), []byte(`[1]`)}); err == nil {
		t.Error("a bad second patch: no error")
	}
}

func FuzzMergePatchLikeEncodingJSON(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":"b","n":[1,{"x":null}]}`, `{"a":null,"c":{"d":1e400}}`},
		{`{"s":"\u00e9\u2028<>&\"\\\/\b\f\n\r\t\u0001"}`, `{"t":"é","s":{"k":[true,false,null]}}`},
		{"{\"bad\":\"\xff\xfe\"}", `{"\ud800":1}`},
		{`{"a":1,"a":2}`, ` {"b" : [ ] } `},
		{`{"a":1,"b":2}`, `{"a":null}`},
		{`{"a":"\u0041","b":[1, 2]}`, `{"a":"A","b":[1,2]}`},
		{`{"a":{"x":1}}`, `{"a":{"x":null,"y":null}}`},
		{`{}`, `[]`},
		{`{"a":1}`, `{"a":1} x`},
		{`null`, `{}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		want, werr := mergePatchReference(doc, patch)
		got, err := MergePatch(doc, patch)
		if (err != nil) != (werr != nil) {
			t.Fatalf("MergePatch(%q, %q): error %v, reference %v", doc, patch, err, werr)
		}
		if !likeEncodingJSON(doc, patch) {
			return // a surrogate escape, kept where encoding/json writes U+FFFD: TestLoneSurrogatesSurviveAMerge
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("MergePatch(%q, %q) = %q, reference %q", doc, patch, got, want)
		}
		// mergePatches: the same result for the patch once (where the
		// merge tells what changed) and twice (a merge patch is
		// idempotent), and changed when it differs from doc.
		if err == nil {
			d, _ := decodeObjectSlowly(doc)
			before, _ := marshalJSON(d)
			for _, patches := range [][][]byte{{patch}, {patch, patch}} {
				got, changed, err := mergePatches(doc, patches)
				if err != nil || !bytes.Equal(got, want) || changed != !bytes.Equal(before, want) {
					t.Fatalf("mergePatches(%q, %d x %q) = %q, %v, %v; want %q, %v", doc, len(patches), patch, got, changed, err, want, !bytes.Equal(before, want))
				}
			}
		}
		if (ValidPatch(patch) != nil) != (decodeObjectOnly(patch) != nil || (json.Valid(patch) && tooDeep(patch))) {
			t.Fatalf("ValidPatch(%q) = %v, disagrees with encoding/json", patch, ValidPatch(patch))
		}
	})
}

func decodeObjectOnly(b []byte) error {
	_, err := decodeObjectSlowly(b)
	return err
}

// mergeObject is RFC 7396 on decoded objects, for the reference.
func mergeObject(target, patch map[string]any) map[string]any {
	if target == nil {
		target = make(map[string]any, len(patch))
	}
	for k, pv := range patch {
		if pv == nil {
			delete(target, k)
			continue
		}
		if po, ok := pv.(map[string]any); ok {
			to, _ := target[k].(map[string]any)
			target[k] = mergeObject(to, po)
			continue
		}
		target[k] = pv
	}
	return target
}

// FuzzValidJSONLikeEncodingJSON holds validJSON to json.Valid: the two
// accept exactly the same inputs.
func FuzzValidJSONLikeEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"b","n":[1,-0.5e+3,{"x":null}],"t":true,"f":false}`,
		`{"s":"\u00e9\ud800\"\\\/\b\f\n\r\t"}`, "{\"bad\":\"\xff\xfe\"}", "\"\x00\"", `"\x"`,
		` {"a" : [ ] } `, "\v{}", `{"a":1,}`, `[1,]`, `01`, `1.`, `-`, `1e`, `{"a"}`, `nul`, `[[[[[[]]]]]]`, ``,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), `["` + strings.Repeat("[", MaxDepth+1) + `\"",{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
		if json.Valid(b) && nestsTooDeep(b) != tooDeep(b) {
			t.Fatalf("nestsTooDeep(%q) = %v, tooDeep %v", b, nestsTooDeep(b), tooDeep(b))
		}
	})
}

// FuzzAppendValueLikeAppendCompact holds appendValue to appendCompact:
// the same bytes for any valid JSON value, whether it copies the value as
// it is or compacts it. And it does copy what appendCompact wrote in
// printable ASCII without escapes, the proxy's own records, so that the
// shortcut is taken where it pays.
func FuzzAppendValueLikeAppendCompact(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"c":[1,2,{"d":"e"}]}}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a" :1}`, `[1, 2]`,
		`{"a":"\u0041"}`, `{"a":"é"}`, `{"":{},"a":[]}`, `{"a b":1,"a":2}`, `"x"`, `1e5`, ` true `,
		`{"user":{"id":42,"name":"Ann","roles":["admin","dev"]},"csrf":"Yv3a9kPq","n":41}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !validJSON(b) || tooDeep(b) {
			return
		}
		v := bytes.TrimSpace(b)
		want := appendCompact(nil, v)
		if got := appendValue(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("appendValue(%q) = %q; appendCompact %q", v, got, want)
		}
		for _, c := range want {
			if c < 0x20 || c >= 0x7f || c == '\\' {
				return
			}
		}
		if end, ok := canonicalAt(want, 0); !ok || end != len(want) {
			t.Fatalf("appendCompact's own %q is not taken as canonical (%d, %v)", want, end, ok)
		}
	})
}
