package session

import (
	"encoding/base64"
	"runtime/debug"
	"strings"
	"testing"
)

func TestMergePatch(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
	}{
		// The examples of RFC 7396, appendix A, that have object documents.
		{"replace", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"add", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"delete", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"delete one of two", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"array replaces", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"value becomes array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"arrays are replaced whole", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"nested null in new object", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{"object replaces scalar", `{"a":"b"}`, `{"a":{"c":1}}`, `{"a":{"c":1}}`},
		{"empty patch", `{"a":1}`, `{}`, `{"a":1}`},
		// What sessionproxy adds: numbers and text kept exactly.
		{"big integer", `{"id":12345678901234567890}`, `{"n":9007199254740993}`, `{"id":12345678901234567890,"n":9007199254740993}`},
		{"no HTML escaping", `{}`, `{"s":"<a href='x'>&</a>"}`, `{"s":"<a href='x'>&</a>"}`},
		{"unicode", `{"s":"zürich"}`, `{"t":"東京 🚀"}`, `{"s":"zürich","t":"東京 🚀"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergePatch([]byte(tc.doc), []byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("MergePatch(%s, %s) = %s, want %s", tc.doc, tc.patch, got, tc.want)
			}
		})
	}
}

func TestMergePatchRejects(t *testing.T) {
	for _, patch := range []string{``, `[1]`, `"x"`, `null`, `1`, `{"a":`, `{"a":1} {"b":2}`, `{"a":1}}`} {
		if _, err := MergePatch([]byte(`{}`), []byte(patch)); err == nil {
			t.Errorf("MergePatch accepted patch %q", patch)
		}
		if ValidPatch([]byte(patch)) == nil {
			t.Errorf("ValidPatch accepted %q", patch)
		}
	}
}

func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"a":{"b":1}}`), []byte(`{"a":{"b":null,"c":[1]}}`))
	f.Add([]byte(`{}`), []byte(`{"n":1e400}`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		out, err := MergePatch(doc, patch)
		if err != nil {
			return
		}
		// The result is an object, and applying the patch again changes
		// nothing (merge patches are idempotent).
		again, err := MergePatch(out, patch)
		if err != nil {
			t.Fatalf("result %s is not a valid document: %v", out, err)
		}
		if string(again) != string(out) {
			t.Fatalf("not idempotent: %s then %s", out, again)
		}
	})
}

// JSON nested far past MaxDepth is refused without a deep stack: the
// validator recurses once per level, so the depth must be checked before
// it, or a patch or a koa cookie of a hundred thousand brackets takes
// megabytes of stack per request (hundreds for a megabyte of them).
func TestDeepNestingIsRefusedWithoutADeepStack(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(4 << 20)) // past it the test binary dies
	deep := []byte(`{"a":` + strings.Repeat("[", 100_000))
	if err := ValidPatch(deep); err == nil {
		t.Error("ValidPatch took it")
	}
	if _, err := MergePatch([]byte(`{}`), deep); err == nil {
		t.Error("MergePatch took it")
	}
	if _, err := parseRecord(append(deep, strings.Repeat("]", 100_000)+`}`...)); err == nil {
		t.Error("parseRecord took it")
	}
	m, err := New(Options{Format: FormatKoa, Keys: []string{"k"}, Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	r := koaRequest("koa.sess=" + base64.StdEncoding.EncodeToString(deep))
	if s, err := m.Load(t.Context(), r); err != nil || !s.IsNew {
		t.Errorf("a koa cookie of 100,000 brackets: %v, %v; want a new session", s, err)
	}
}
