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
// change large integers in a session that koa wrote.
func MergePatch(doc, patch []byte) ([]byte, error) {
	d, err := decodeObject(doc)
	if err != nil {
		return nil, fmt.Errorf("merge patch: document: %w", err)
	}
	p, err := decodeObject(patch)
	if err != nil {
		return nil, fmt.Errorf("merge patch: patch: %w", err)
	}
	return marshalJSON(mergeObject(d, p))
}

// ValidPatch reports why b cannot be used as a merge patch (nil if it can).
func ValidPatch(b []byte) error {
	_, err := decodeObject(b)
	return err
}

func decodeObject(b []byte) (map[string]any, error) {
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
