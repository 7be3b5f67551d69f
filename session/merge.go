package session

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// The merge patch works on the JSON text itself: an object is read as its
// members (each key decoded, each value left as raw JSON), sorted by key,
// and the result is written member by member, so that nothing is decoded
// into maps and values the patch does not touch are only copied (and made
// compact). The input must be JSON that json.Valid accepted.

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

// decodeKey returns the text of the JSON string s (with its quotes).
func decodeKey(s []byte) []byte {
	raw := s[1 : len(s)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw
	}
	var k string
	_ = json.Unmarshal(s, &k) // escapes, or invalid UTF-8 to replace
	return []byte(k)
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
// keys sorted.
func appendMerged(dst, target, patch []byte) []byte {
	var buf [16]member
	ms := buf[:0]
	if target != nil {
		ms = appendMembers(ms, target)
	}
	nt := len(ms)
	ms = appendMembers(ms, patch)
	tm, pm := ms[:nt], ms[nt:]
	dst = append(dst, '{')
	n := 0
	key := func(k []byte) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendStringBytes(dst, k)
		dst = append(dst, ':')
	}
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
			key(tm[0].key)
			dst = appendCompact(dst, tm[0].val)
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
		case p.val[0] == '{':
			key(p.key)
			if len(t) == 0 || t[0] != '{' {
				t = nil
			}
			dst = appendMerged(dst, t, p.val)
		default:
			key(p.key)
			dst = appendCompact(dst, p.val)
		}
	}
	return append(dst, '}')
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

// checkObject returns the JSON object b without its surrounding space, or
// encoding/json's error for it (errNotObject for another value).
func checkObject(b []byte) ([]byte, error) {
	if !json.Valid(b) {
		_, err := decodeObjectSlowly(b) // for encoding/json's error
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if b[0] != '{' {
		return nil, errNotObject
	}
	return b, nil
}
