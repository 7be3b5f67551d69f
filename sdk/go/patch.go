package sessionproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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

// dropNulls removes the null members of m and of the objects nested in
// it, as merging m as a patch would. Arrays are stored whole, so a null
// in one, or in an object in one, is data and stays.
func dropNulls(m map[string]any) {
	for k, e := range m {
		switch e := e.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(e)
		}
	}
}

// diff returns the smallest RFC 7396 merge patch that turns before into
// after: only changed keys, removed keys as nil, objects diffed
// recursively, anything else (arrays too) replaced whole. An empty patch
// means no change. A null member of before counts as absent, as merging
// reads it: the proxy may hold one (a Koa app's cookie), and it is no
// change.
func diff(before, after map[string]any) map[string]any {
	patch := map[string]any{}
	for k, b := range before {
		if _, ok := after[k]; !ok && b != nil {
			patch[k] = nil
		}
	}
	for k, a := range after {
		b := before[k]
		if b == nil {
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
		x, okA := parseDecimal(string(a))
		y, okB := parseDecimal(string(b))
		return okA && okB && x == y
	default: // string, bool, nil
		return a == b
	}
}

// decimal is a JSON number reduced to its significant digits, without
// leading or trailing zeros, and the power of ten they are scaled by, so
// that two numbers are equal exactly when their decimals are.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal reads a JSON number exactly, whatever its size or
// precision: 1, 1.0 and 10e-1 are one decimal, and 1e400 is not 1e401.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, e, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return decimal{}, false
		}
		d.exp = n
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return decimal{}, false
	}
	d.exp -= int64(len(frac))
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.exp += int64(len(digits) - len(trimmed))
	if trimmed == "" {
		return decimal{}, true // zero, and -0 is 0
	}
	d.digits = trimmed
	return d, true
}

// encodeASCII encodes v as compact JSON with every non-ASCII character
// and DEL escaped, so that the header value is printable ASCII whatever
// the session holds: a DEL (0x7f), which JSON leaves as it is, makes an
// HTTP client refuse the whole response.
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
		case r < 0x7f:
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
