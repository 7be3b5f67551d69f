package sessionproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// normalize returns values as the proxy will hold them: encoded as JSON,
// decoded with numbers as json.Number, and without null object members,
// which a merge patch cannot store.
func normalize(values map[string]any) (map[string]any, error) {
	b, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("sessionproxy: session cannot be encoded as JSON: %w", err)
	}
	var out map[string]any
	if err := decodeStrict(b, &out); err != nil {
		return nil, fmt.Errorf("sessionproxy: session cannot be encoded as JSON: %w", err)
	}
	dropNulls(out)
	return out, nil
}

func dropNulls(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				dropNulls(e)
			}
		}
	case []any:
		for _, e := range v {
			dropNulls(e)
		}
	}
}

// diff returns the smallest RFC 7396 merge patch that turns before into
// after: only changed keys, removed keys as nil, objects diffed
// recursively, anything else (arrays too) replaced whole. An empty patch
// means no change.
func diff(before, after map[string]any) map[string]any {
	patch := map[string]any{}
	for k := range before {
		if _, ok := after[k]; !ok {
			patch[k] = nil
		}
	}
	for k, a := range after {
		b, ok := before[k]
		if !ok {
			patch[k] = a
			continue
		}
		am, aObj := a.(map[string]any)
		bm, bObj := b.(map[string]any)
		if aObj && bObj {
			if d := diff(bm, am); len(d) > 0 {
				patch[k] = d
			}
		} else if !equal(a, b) {
			patch[k] = a
		}
	}
	return patch
}

// equal compares two decoded JSON values; numbers by value, so that 1
// and 1.0 are the same.
func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		if a == b {
			return true
		}
		x, _, errA := big.ParseFloat(string(a), 10, 256, big.ToNearestEven)
		y, _, errB := big.ParseFloat(string(b), 10, 256, big.ToNearestEven)
		return errA == nil && errB == nil && x.Cmp(y) == 0
	default: // string, bool, nil
		return a == b
	}
}

// encodeASCII encodes v as compact JSON with every non-ASCII character
// escaped, so that the header value is plain ASCII whatever the session
// holds.
func encodeASCII(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // v was decoded from JSON
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r < utf8.RuneSelf:
			out = append(out, b[0])
		case r > 0xFFFF:
			r -= 0x10000
			out = appendU(appendU(out, 0xD800+(r>>10)), 0xDC00+(r&0x3FF))
		default:
			out = appendU(out, r)
		}
		b = b[size:]
	}
	return string(out)
}

func appendU(b []byte, r rune) []byte {
	s := strconv.FormatInt(int64(r), 16)
	b = append(b, `\u`...)
	for range 4 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}
