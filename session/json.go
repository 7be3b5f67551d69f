package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// This file is the session's JSON: the scanner that walks JSON text
// (records and patches), and the RFC 7396 merge patch the upstream's
// X-Session-Set applies. It works on the text itself: an object is read
// as its members (each key decoded, each value left as raw JSON), sorted
// by key, and the result is written member by member, so that nothing is
// decoded into maps and values a patch does not touch are only copied
// (and made compact). Every input is checked once, by object, before it
// is walked.

// MaxDepth is how deep objects and arrays may nest in session data, a
// record or a patch, the top-level object counting as 1. Deeper JSON is
// malformed: a patch is refused (502), a cookie or store record gives a
// fresh session. The bound keeps the cost of a merge linear in its input.
const MaxDepth = 32

// errNotObject is returned for a record or patch that is not a JSON object.
var errNotObject = errors.New("not a JSON object")

// object returns the JSON object b without its surrounding space, or
// encoding/json's error for it (errNotObject for another value). It is
// the one check of a patch or a document: every walk below assumes it
// passed.
func object(b []byte) ([]byte, error) {
	if nestsTooDeep(b) {
		return nil, errTooDeep
	}
	if !validJSON(b) {
		_, err := decodeObjectSlowly(b) // for encoding/json's error
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if b[0] != '{' {
		return nil, errNotObject
	}
	return b, nil
}

// validJSON reports whether b is valid JSON, as json.Valid does (a fuzz
// test holds the two to the same answer), about four times faster: it is
// every cold read's check of a record a Koa app or a store could have
// written, and every write's check of the upstream's patches.
func validJSON(b []byte) bool { return gjson.ValidBytes(b) }

// nestsTooDeep is tooDeep, checked before validJSON: gjson's validator
// recurses once per level, so a megabyte of brackets (a directive, or a
// cookie under a raised server.maxHeaderBytes) would take hundreds of MB
// of stack before being refused. Data with at most MaxDepth brackets in
// all, most sessions, costs two counts of bytes.
func nestsTooDeep(b []byte) bool {
	return bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) > MaxDepth && tooDeep(b)
}

// errTooDeep is returned for JSON that nests deeper than MaxDepth.
var errTooDeep = fmt.Errorf("objects and arrays nested deeper than %d", MaxDepth)

// tooDeep reports whether b, JSON or any bytes, nests objects and arrays
// deeper than MaxDepth outside its strings.
func tooDeep(b []byte) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > MaxDepth {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// plainData reports whether the start of a valid JSON object, b (its
// members up to some point, without the closing brace), nests no deeper
// than MaxDepth and has no top-level member whose key starts with "_"
// (or with an escape, which might spell one): what scanRecord keeps of
// it as it is. It is tooDeep's walk, noting which strings are top-level
// keys: those after the object's brace or a comma at its level.
func plainData(b []byte) bool {
	depth, key := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			if key && (b[i+1] == '_' || b[i+1] == '\\') {
				return false
			}
			key = false
			i = skipString(b, i) - 1
		case '{', '[':
			if depth++; depth > MaxDepth {
				return false
			}
			key = depth == 1
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		}
	}
	return true
}

// ValidPatch reports why b cannot be used as a merge patch (nil if it can).
func ValidPatch(b []byte) error {
	_, err := object(b)
	return err
}

// ReservedKey returns the first top-level key of the JSON object patch
// (valid, as ValidPatch checks) that starts with "_", or false. Such keys
// are reserved: koa-session keeps its bookkeeping there, and so does the
// proxy, so an upstream may not set them.
func ReservedKey(patch []byte) (string, bool) {
	b := bytes.TrimSpace(patch)
	if len(b) == 0 || b[0] != '{' {
		return "", false
	}
	for i := skipSpace(b, 1); b[i] != '}'; {
		keyEnd := skipString(b, i)
		if k := decodeKey(b[i:keyEnd]); len(k) > 0 && k[0] == '_' {
			return string(k), true
		}
		valEnd := skipValue(b, skipSpace(b, skipSpace(b, keyEnd)+1))
		if i = skipSpace(b, valEnd); b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return "", false
}

// MergePatch applies patch to the JSON object doc as an RFC 7396 JSON
// Merge Patch and returns the result, compact and with object keys sorted.
// Both must be JSON objects. Numbers are kept exactly as written, so
// integers beyond 2^53 survive.
//
// It is hand-written rather than taken from a library because the
// libraries at hand decode numbers into float64, which would silently
// change large integers in a session that koa wrote. It works on the JSON
// text itself (see this file's comment), without maps or reflection: it runs on every
// request that changes a session. A fuzz test holds it to encoding/json's
// results.
func MergePatch(doc, patch []byte) ([]byte, error) {
	out, _, err := merge(doc, [][]byte{patch})
	return out, err
}

// mergePatches applies patches to doc in order, as MergePatch does, and
// reports whether the result differs from doc (both compact and sorted).
func mergePatches(doc []byte, patches [][]byte) (out []byte, changed bool, err error) {
	if len(patches) == 1 { // most writes: the merge tells what it changed
		out, _, changed, err = mergeOne(doc, patches[0])
		return out, changed, err
	}
	return mergeSeveral(doc, patches)
}

// mergeSeveral is mergePatches with more than one patch. It is a function
// of its own so that its buffer is not in the frame of every write, whose
// stack would then outgrow a goroutine's first 8 KiB.
func mergeSeveral(doc []byte, patches [][]byte) (out []byte, changed bool, err error) {
	out, d, err := merge(doc, patches)
	if err != nil {
		return nil, false, err
	}
	// doc as MergePatch writes it, for the comparison only: on the stack
	// for a session of up to 512 bytes.
	var buf [512]byte
	return out, !bytes.Equal(appendCompact(buf[:0], d), out), nil
}

// mergeOne is merge with one patch, and also reports whether the result
// differs from doc made compact and sorted.
func mergeOne(doc, patch []byte) (out, d []byte, changed bool, err error) {
	if d, err = object(doc); err != nil {
		return nil, nil, false, fmt.Errorf("merge patch: document: %w", err)
	}
	p, err := object(patch)
	if err != nil {
		return nil, nil, false, fmt.Errorf("merge patch: patch: %w", err)
	}
	out, changed = appendMerged(make([]byte, 0, len(d)+len(p)), d, p)
	return out, d, changed, nil
}

// merge applies patches to doc in order and returns the result and doc
// without its surrounding space. With no patches the result is doc made
// compact and sorted.
func merge(doc []byte, patches [][]byte) (out, d []byte, err error) {
	if len(patches) == 1 {
		out, d, _, err = mergeOne(doc, patches[0])
		return out, d, err
	}
	if d, err = object(doc); err != nil {
		return nil, nil, fmt.Errorf("merge patch: document: %w", err)
	}
	if len(patches) == 0 {
		return appendValue(nil, d), d, nil
	}
	// Several: gathered first, written once (merge.go).
	root := &patchedObject{raw: d}
	size := len(d)
	for _, patch := range patches {
		p, err := object(patch)
		if err != nil {
			return nil, nil, fmt.Errorf("merge patch: patch: %w", err)
		}
		root.apply(p)
		size += len(p)
	}
	return root.appendTo(make([]byte, 0, size)), d, nil
}

// member is one member of a JSON object: its key, decoded (it may alias
// the input), and its value as raw JSON.
type member struct {
	key, val []byte
}

// appendMembers appends the members of the object that starts at b[0] to
// ms, sorted by key, with only the last of members that share a key (as
// decoding into a map keeps it).
func appendMembers(ms []member, b []byte) []member {
	first := len(ms)
	for i := skipSpace(b, 1); b[i] != '}'; {
		keyEnd := skipString(b, i)
		valStart := skipSpace(b, skipSpace(b, keyEnd)+1)
		valEnd := skipValue(b, valStart)
		ms = append(ms, member{key: decodeKey(b[i:keyEnd]), val: b[valStart:valEnd]})
		if i = skipSpace(b, valEnd); b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	obj := ms[first:]
	if len(obj) < 2 {
		return ms
	}
	slices.SortStableFunc(obj, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	kept := obj[:0]
	for i, m := range obj {
		if i+1 < len(obj) && bytes.Equal(obj[i+1].key, m.key) {
			continue // a later member has the same key
		}
		kept = append(kept, m)
	}
	return ms[:first+len(kept)]
}

// decodeKey returns the text of the JSON string s (with its quotes), as
// unquote decodes it.
func decodeKey(s []byte) []byte {
	raw := s[1 : len(s)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw
	}
	return unquote(raw)
}

// appendCompact appends the JSON value v compact, with object keys sorted
// and strings written as appendString writes them.
func appendCompact(dst, v []byte) []byte {
	switch v[0] {
	case '{':
		var buf [16]member
		dst = append(dst, '{')
		for i, m := range appendMembers(buf[:0], v) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStringBytes(dst, m.key)
			dst = append(dst, ':')
			dst = appendCompact(dst, m.val)
		}
		return append(dst, '}')
	case '[':
		dst = append(dst, '[')
		n := 0
		for i := skipSpace(v, 1); v[i] != ']'; {
			end := skipValue(v, i)
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, v[i:end])
			n++
			if i = skipSpace(v, end); v[i] == ',' {
				i = skipSpace(v, i+1)
			}
		}
		return append(dst, ']')
	case '"':
		return appendStringBytes(dst, decodeKey(v))
	}
	return append(dst, v...) // a number as written, true, false or null
}

// appendMerged appends the object target (raw JSON, or nil for none) with
// the object patch applied as an RFC 7396 merge patch, compact and with
// keys sorted, and reports whether the result differs from target made
// compact and sorted (for a nil target: always).
func appendMerged(dst, target, patch []byte) (_ []byte, changed bool) {
	var buf [16]member
	ms := buf[:0]
	if target != nil {
		ms = appendMembers(ms, target)
	}
	nt := len(ms)
	ms = appendMembers(ms, patch)
	tm, pm := ms[:nt], ms[nt:]
	w := objectWriter{dst: append(dst, '{')}
	for len(tm) > 0 || len(pm) > 0 {
		c := 0
		switch {
		case len(pm) == 0:
			c = -1
		case len(tm) == 0:
			c = 1
		default:
			c = bytes.Compare(tm[0].key, pm[0].key)
		}
		if c < 0 { // only in the target: kept
			w.key(tm[0].key)
			w.dst = appendValue(w.dst, tm[0].val)
			tm = tm[1:]
			continue
		}
		p := pm[0]
		pm = pm[1:]
		var t []byte
		if c == 0 {
			t = tm[0].val
			tm = tm[1:]
		}
		switch {
		case string(p.val) == "null": // removed
			changed = changed || c == 0
		case p.val[0] == '{':
			w.key(p.key)
			if len(t) == 0 || t[0] != '{' {
				t = nil
			}
			var ch bool
			w.dst, ch = appendMerged(w.dst, t, p.val)
			changed = changed || ch
		default:
			w.key(p.key)
			start := len(w.dst)
			w.dst = appendValue(w.dst, p.val)
			changed = changed || c != 0 || !sameCompact(w.dst[start:], t)
		}
	}
	return append(w.dst, '}'), changed || target == nil
}

// sameCompact reports whether v, compact and sorted, is the value t made
// so: t as it is, most often, or else compacted (on the stack when small).
func sameCompact(v, t []byte) bool {
	if bytes.Equal(v, t) {
		return true
	}
	var buf [64]byte
	return bytes.Equal(v, appendCompact(buf[:0], t))
}

// objectWriter writes an object's members after its '{': each key with
// the comma before it, then the caller appends the value to dst.
type objectWriter struct {
	dst []byte
	n   int
}

func (w *objectWriter) key(k []byte) {
	if w.n > 0 {
		w.dst = append(w.dst, ',')
	}
	w.n++
	w.dst = appendStringBytes(w.dst, k)
	w.dst = append(w.dst, ':')
}

// appendValue appends the JSON value v as appendCompact writes it,
// copying it as it is when it is written so already (canonical): the
// values a merge keeps are mostly the proxy's own, written by an earlier
// merge, and compacting them again was most of a write's merge.
func appendValue(dst, v []byte) []byte {
	if end, ok := canonicalAt(v, 0); ok && end == len(v) {
		return append(dst, v...)
	}
	return appendCompact(dst, v)
}

// canonicalAt reports whether the valid JSON value that starts at v[i] is
// as appendCompact writes it, and returns the index just past it (when it
// is). It is strict rather than complete: a string with an escape or a
// byte outside printable ASCII is taken as not canonical, which only
// costs a compaction.
func canonicalAt(v []byte, i int) (int, bool) {
	switch v[i] {
	case '{':
		i++
		if v[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for n := 0; ; n++ {
			end, ok := plainStringAt(v, i)
			if !ok || v[end] != ':' {
				return i, false
			}
			key := v[i+1 : end-1]
			if n > 0 && bytes.Compare(prev, key) >= 0 { // sorted, no key twice
				return i, false
			}
			prev = key
			if i, ok = canonicalAt(v, end+1); !ok || v[i] != ',' {
				return closeAt(v, i, '}', ok)
			}
			i++
		}
	case '[':
		i++
		if v[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonicalAt(v, i); !ok || v[i] != ',' {
				return closeAt(v, i, ']', ok)
			}
			i++
		}
	case '"':
		return plainStringAt(v, i)
	case ' ', '\t', '\n', '\r':
		return i, false
	}
	for i < len(v) && !isDelim(v[i]) { // a number as written, true, false or null
		i++
	}
	return i, true
}

// closeAt ends canonicalAt's object or array after its last member,
// canonical if ok: v[i] must be its closing byte.
func closeAt(v []byte, i int, close byte, ok bool) (int, bool) {
	if !ok || v[i] != close {
		return i, false
	}
	return i + 1, true
}

// plainStringAt reports whether v[i] starts a string of printable ASCII
// without escapes, which appendStringBytes writes as it is, and returns
// the index just past it (when it does).
func plainStringAt(v []byte, i int) (int, bool) {
	if v[i] != '"' {
		return i, false
	}
	for i++; v[i] != '"'; i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			return i, false
		}
	}
	return i + 1, true
}

// appendStringBytes is appendString for a []byte.
func appendStringBytes(dst, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return appendString(dst, string(s))
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// The skip functions walk JSON that json.Valid accepted: each returns the
// index just past what starts at i.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && !isDelim(b[i]) {
		i++
	}
	return i
}

// isDelim reports whether c ends a number or a literal.
// skipValueWithin is skipValue for a value at b[i] inside depth levels
// of objects and arrays, and reports false, at once, where the value
// nests deeper than MaxDepth in all: tooDeep in the same pass.
func skipValueWithin(b []byte, i, depth int) (int, bool) {
	if b[i] != '{' && b[i] != '[' {
		return skipValue(b, i), true
	}
	for d := 0; ; i++ {
		switch b[i] {
		case '"':
			i = skipString(b, i) - 1
		case '{', '[':
			if d++; depth+d > MaxDepth {
				return i, false
			}
		case '}', ']':
			if d--; d == 0 {
				return i + 1, true
			}
		}
	}
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// isEmptyObject reports whether b is the JSON object {} (any spacing).
func isEmptyObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return len(b) == 0
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// decodeObjectSlowly is decodeObject with encoding/json, for its errors.
func decodeObjectSlowly(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	return m, nil
}

// marshalJSON encodes v as compact JSON without HTML escaping, so that
// "<", ">" and "&" stay as koa's JSON.stringify writes them.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
