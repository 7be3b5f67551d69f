package session

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// The session cookie the proxy reads is the one it strips, in both
// formats, and the koa format's .sig goes with it.
func TestStripRemovesWhatIsRead(t *testing.T) {
	lines := [][]string{
		{"koa.sess=v"},
		{"koa.sess =v"},
		{"koa.sess\t=v"},
		{" koa.sess = v "},
		{"a=1;koa.sess=v;koa.sess.sig=s"},
		{"a=1; koa.sess =v; koa.sess.sig =s"},
		{`koa.sess="v"; koa.sess.sig="s"`},
		{"a=1", "koa.sess=v", "koa.sess.sig=s"},
		{"koa.sess=v;;koa.sess.sig=s;"},
		{"x=koa.sess=v; koa.sess.sig=s; koa.sess=w"},
	}
	for _, format := range []Format{FormatSecure, FormatKoa} {
		m := newManager(t, Options{Format: format})
		for _, line := range lines {
			t.Run(fmt.Sprintf("%s %q", format, line), func(t *testing.T) {
				checkStripRemovesWhatIsRead(t, m, line)
			})
		}
	}
}

// checkStripRemovesWhatIsRead fails when, after StripCookies, any reader
// of the proxy still finds the session cookie or its .sig in lines.
func checkStripRemovesWhatIsRead(t *testing.T, m *Manager, lines []string) {
	t.Helper()
	h := http.Header{"Cookie": append([]string(nil), lines...)}
	m.StripCookies(h)
	r := &http.Request{Header: h}
	if rr, _ := m.codec.read(r, m.Name()); rr.found {
		t.Errorf("%s: after stripping %q to %q, the reader still finds the session cookie", m.Format(), lines, h["Cookie"])
	}
	joined := strings.Join(h["Cookie"], "; ")
	for _, name := range []string{m.Name(), m.Name() + ".sig"} {
		if _, ok := requestCookie(h, name); ok {
			t.Errorf("after stripping %q to %q, net/http's rules still find %s", lines, h["Cookie"], name)
		}
		if _, ok := cookieValue(joined, name); ok {
			t.Errorf("after stripping %q to %q, koa's rules still find %s", lines, h["Cookie"], name)
		}
	}
}

func FuzzStripRemovesWhatIsRead(f *testing.F) {
	f.Add("a=1; koa.sess =v; koa.sess.sig=s", "b=2")
	f.Add("koa.sess\t=v", "koa.sess.sig = s")
	f.Add(`koa.sess="v"`, "")
	secure, err := New(Options{Keys: []string{key1}})
	if err != nil {
		f.Fatal(err)
	}
	koa, err := New(Options{Keys: []string{key1}, Format: FormatKoa})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := []string{a}
		if b != "" {
			lines = append(lines, b)
		}
		checkStripRemovesWhatIsRead(t, secure, lines)
		checkStripRemovesWhatIsRead(t, koa, lines)
	})
}

// nested returns a JSON object nested depth objects deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat("}", depth-1)
}

func TestNestingDepthIsBounded(t *testing.T) {
	ok, deep := nested(MaxDepth), nested(MaxDepth+1)
	if err := ValidPatch([]byte(ok)); err != nil {
		t.Errorf("a patch %d deep: %v", MaxDepth, err)
	}
	if err := ValidPatch([]byte(deep)); err == nil {
		t.Errorf("a patch %d deep was accepted", MaxDepth+1)
	}
	arrays := `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	if err := ValidPatch([]byte(arrays)); err == nil {
		t.Errorf("arrays %d deep in a patch were accepted", MaxDepth+1)
	}
	if _, err := MergePatch([]byte(deep), []byte(`{}`)); err == nil {
		t.Errorf("a document %d deep was accepted", MaxDepth+1)
	}
	if _, err := parseRecord([]byte(deep)); err == nil {
		t.Errorf("a record %d deep was accepted", MaxDepth+1)
	}
	if _, err := parseRecord([]byte(ok)); err != nil {
		t.Errorf("a record %d deep: %v", MaxDepth, err)
	}
	// Brackets inside strings are text, not depth.
	if err := ValidPatch([]byte(`{"a":"` + strings.Repeat("{[", 1000) + `"}`)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

// A koa cookie whose data nests too deep is no session: Load gives a fresh
// one, as for any malformed cookie.
func TestLoadRefusesTooDeepCookie(t *testing.T) {
	m := newManager(t, Options{Format: FormatKoa})
	rec := []byte(nested(MaxDepth + 1))
	value := base64.StdEncoding.EncodeToString(rec)
	r := &http.Request{Header: http.Header{"Cookie": {"koa.sess=" + value + "; koa.sess.sig=" + sign([]byte(key1), "koa.sess="+value)}}}
	s, err := m.Load(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsNew || s.Rejected != RejectMalformed {
		t.Errorf("session %+v, want a fresh one, rejected as malformed", s)
	}
}

// patchesOnto returns a document with n members of about 20 bytes each,
// and n one-member patches that change each.
func patchesOnto(n int) (doc []byte, patches [][]byte) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"key%06d":"value"`, i)
		patches = append(patches, fmt.Appendf(nil, `{"key%06d":{"n":%d}}`, i, i))
	}
	b.WriteByte('}')
	return b.Bytes(), patches
}

// Applying n patches costs in proportion to the document plus the
// patches, not to n times the document: the bytes allocated grow
// linearly.
func TestMergeManyPatchesIsLinear(t *testing.T) {
	allocated := func(n int) uint64 {
		doc, patches := patchesOnto(n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, _, err := mergePatches(doc, patches); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(200), allocated(2000)
	if ratio := float64(large) / float64(small); ratio > 20 {
		t.Errorf("10 times the patches allocated %.0f times the bytes (%d → %d): quadratic", ratio, small, large)
	}
}

// Several patches give what applying them one by one gives.
func TestMergePatchesLikeOneByOne(t *testing.T) {
	tests := []struct {
		name, doc string
		patches   []string
	}{
		{"replace then merge", `{"a":{"x":1}}`, []string{`{"a":{"y":2}}`, `{"a":{"z":3}}`}},
		{"delete then object", `{"a":{"x":1}}`, []string{`{"a":null}`, `{"a":{"c":2}}`}},
		{"scalar then object", `{"a":{"x":1}}`, []string{`{"a":1}`, `{"a":{"c":2}}`}},
		{"object then delete inside", `{}`, []string{`{"a":{"b":{"c":1}}}`, `{"a":{"b":{"c":null}}}`}},
		{"duplicate keys in a patch", `{"a":{"x":1}}`, []string{`{"a":{"y":1},"a":{"z":2}}`, `{"b":1}`}},
		{"duplicate keys in the doc", `{"a":1,"a":{"k":2}}`, []string{`{"a":{"j":3}}`, `{"c":[1,{"d":null}]}`}},
		{"escaped keys", `{"\u00e9":1,"e\u0301":2}`, []string{`{"é":{"x":1}}`, `{"\"":true}`}},
		{"untouched members kept compact", `{ "z" : [ 1 , 2 ] , "m" : { "b" : 1 , "a" : 2 } }`, []string{`{"a":1}`, `{"b":2}`}},
		{"many", `{}`, []string{`{"a":1}`, `{"b":{"c":1}}`, `{"a":null}`, `{"b":{"d":2}}`, `{"b":null,"e":"f"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkMergeLikeOneByOne(t, []byte(tc.doc), bytesOf(tc.patches))
		})
	}
}

func bytesOf(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

func checkMergeLikeOneByOne(t *testing.T, doc []byte, patches [][]byte) {
	t.Helper()
	want := doc
	var werr error
	for _, p := range patches {
		if want, werr = MergePatch(want, p); werr != nil {
			break
		}
	}
	got, _, err := mergePatches(doc, patches)
	if (err != nil) != (werr != nil) || (err == nil && !bytes.Equal(got, want)) {
		t.Fatalf("mergePatches(%q, %q) = %q, %v; one by one %q, %v", doc, patches, got, err, want, werr)
	}
}

func FuzzMergePatchesLikeOneByOne(f *testing.F) {
	f.Add([]byte(`{"a":{"x":1}}`), []byte(`{"a":null}`), []byte(`{"a":{"c":2}}`))
	f.Add([]byte(`{"a":1,"a":{"k":2}}`), []byte(`{"a":{"y":1},"a":{"z":2}}`), []byte(`{"b":[{}]}`))
	f.Fuzz(func(t *testing.T, doc, p1, p2 []byte) {
		checkMergeLikeOneByOne(t, doc, [][]byte{p1, p2})
		checkMergeLikeOneByOne(t, doc, [][]byte{p1, p2, p1})
	})
}

// BenchmarkMergeManyPatches applies n one-member patches to a document of
// n members: with a linear merge, ns/op grows as n, and ns/patch (the
// reported metric) stays flat.
func BenchmarkMergeManyPatches(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint("patches=", n), func(b *testing.B) {
			doc, patches := patchesOnto(n)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := mergePatches(doc, patches); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/patch")
		})
	}
}

// BenchmarkMergeDeepPatch applies a patch as deep as the limit allows onto
// a document as deep.
func BenchmarkMergeDeepPatch(b *testing.B) {
	doc, patch := []byte(nested(MaxDepth)), []byte(nested(MaxDepth))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MergePatch(doc, patch); err != nil {
			b.Fatal(err)
		}
	}
}
