package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// MergePatch applies patch to the JSON object doc as an RFC 7396 JSON
// Merge Patch and returns the result, compact and with object keys sorted.
// Both must be JSON objects. Numbers are kept exactly as written, so
// integers beyond 2^53 survive.
//
// It is hand-written rather than taken from a library because the
// libraries at hand decode numbers into float64, which would silently
// change large integers in a session that koa wrote. It works on the JSON
// text itself (see merge.go), without maps or reflection: it runs on every
// request that changes a session. A fuzz test holds it to encoding/json's
// results.
func MergePatch(doc, patch []byte) ([]byte, error) {
	d, err := checkObject(doc)
	if err != nil {
		return nil, fmt.Errorf("merge patch: document: %w", err)
	}
	p, err := checkObject(patch)
	if err != nil {
		return nil, fmt.Errorf("merge patch: patch: %w", err)
	}
	return appendMerged(make([]byte, 0, len(d)+len(p)), d, p), nil
}

// mergePatches applies patches to doc in order, as MergePatch does, and
// reports whether the result differs from doc (both compact and sorted).
func mergePatches(doc []byte, patches [][]byte) (out []byte, changed bool, err error) {
	d, err := checkObject(doc)
	if err != nil {
		return nil, false, fmt.Errorf("merge patch: document: %w", err)
	}
	out = d
	for _, patch := range patches {
		p, err := checkObject(patch)
		if err != nil {
			return nil, false, fmt.Errorf("merge patch: patch: %w", err)
		}
		out = appendMerged(make([]byte, 0, len(out)+len(p)), out, p)
	}
	if len(patches) == 0 {
		out = appendCompact(nil, d)
	}
	// doc as MergePatch writes it, for the comparison only: on the stack
	// for a session of up to 512 bytes.
	var buf [512]byte
	before := appendCompact(buf[:0], d)
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
