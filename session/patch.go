package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// MergePatch applies patch to the JSON object doc as an RFC 7396 JSON
// Merge Patch and returns the result, compact and with object keys sorted.
// Both must be JSON objects. Numbers are kept exactly as written, so
// integers beyond 2^53 survive.
//
// It is hand-written rather than taken from a library because the
// libraries at hand decode numbers into float64, which would silently
// change large integers in a session that koa wrote. It decodes and
// encodes by hand too, without reflection: it runs on every request that
// changes a session. A fuzz test holds it to encoding/json's results.
func MergePatch(doc, patch []byte) ([]byte, error) {
	d, err := decodeObject(doc)
	if err != nil {
		return nil, fmt.Errorf("merge patch: document: %w", err)
	}
	p, err := decodeObject(patch)
	if err != nil {
		return nil, fmt.Errorf("merge patch: patch: %w", err)
	}
	return appendJSON(nil, mergeObject(d, p)), nil
}

// mergePatches applies patches to doc in order, as MergePatch does, and
// reports whether the result differs from doc (both compact and sorted).
func mergePatches(doc []byte, patches [][]byte) (out []byte, changed bool, err error) {
	d, err := decodeObject(doc)
	if err != nil {
		return nil, false, fmt.Errorf("merge patch: document: %w", err)
	}
	before := appendJSON(nil, d)
	for _, patch := range patches {
		p, err := decodeObject(patch)
		if err != nil {
			return nil, false, fmt.Errorf("merge patch: patch: %w", err)
		}
		d = mergeObject(d, p)
	}
	out = appendJSON(make([]byte, 0, len(before)+16), d)
	return out, !bytes.Equal(before, out), nil
}

// ValidPatch reports why b cannot be used as a merge patch (nil if it can).
func ValidPatch(b []byte) error {
	if json.Valid(b) {
		if bytes.TrimLeft(b, " \t\r\n")[0] != '{' {
			return errNotObject
		}
		return nil
	}
	_, err := decodeObjectSlowly(b)
	return err
}

// decodeObject decodes the JSON object b into maps, slices, strings,
// json.Numbers, bools and nils, as encoding/json does with UseNumber.
func decodeObject(b []byte) (map[string]any, error) {
	if !json.Valid(b) {
		return decodeObjectSlowly(b) // for encoding/json's error
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return nil, errNotObject
	}
	v, _ := decodeValue(b, i)
	return v.(map[string]any), nil
}

// decodeValue decodes the value at b[i] of JSON that json.Valid accepted,
// and returns the index just past it.
func decodeValue(b []byte, i int) (any, int) {
	switch b[i] {
	case '{':
		m := make(map[string]any)
		i = skipSpace(b, i+1)
		for b[i] != '}' {
			var k string
			k, i = decodeString(b, i)
			var v any
			v, i = decodeValue(b, skipSpace(b, skipSpace(b, i)+1))
			m[k] = v
			if i = skipSpace(b, i); b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return m, i + 1
	case '[':
		a := make([]any, 0)
		i = skipSpace(b, i+1)
		for b[i] != ']' {
			var v any
			v, i = decodeValue(b, i)
			a = append(a, v)
			if i = skipSpace(b, i); b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return a, i + 1
	case '"':
		return decodeString(b, i)
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	}
	j := skipValue(b, i)
	return json.Number(b[i:j]), j
}

func decodeString(b []byte, i int) (string, int) {
	j := skipString(b, i)
	raw := b[i+1 : j-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), j
	}
	var s string
	_ = json.Unmarshal(b[i:j], &s) // escapes, or invalid UTF-8 to replace
	return s, j
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

// appendJSON appends v, a value decodeObject returns, as compact JSON
// with sorted keys and without HTML escaping: what marshalJSON writes.
func appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendJSON(dst, v[k])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case string:
		return appendString(dst, v)
	case json.Number:
		return append(dst, v...)
	case bool:
		if v {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case nil:
		return append(dst, "null"...)
	}
	b, _ := marshalJSON(v) // not reached: decodeObject makes no other types
	return append(dst, b...)
}

// appendString appends s as a JSON string. Printable ASCII without
// quotes or backslashes is copied; anything else is left to encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := marshalJSON(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

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
