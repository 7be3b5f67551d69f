package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// A record is a session serialized the way koa-session serializes it: the
// data object with koa's bookkeeping members appended, either
// "_expire" (ms since the epoch) and "_maxAge" (ms), or "_session": true
// for a Browser session. It is the payload of a koa cookie and the value a
// server-side store keeps, in both formats.

// errNotObject is returned for a record or patch that is not a JSON object.
var errNotObject = errors.New("not a JSON object")

// record holds a decoded record.
type record struct {
	data      json.RawMessage
	expire    time.Time // zero: no _expire
	maxAge    MaxAge    // 0: no _maxAge and no _session
	isBrowser bool
}

// parseRecord decodes a koa-layout record.
func parseRecord(b []byte) (record, error) {
	var members map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&members); err != nil {
		return record{}, fmt.Errorf("record: %w", err)
	}
	if members == nil {
		return record{}, fmt.Errorf("record: %w", errNotObject)
	}
	var r record
	if v, ok := members["_expire"]; ok {
		ms, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return record{}, fmt.Errorf("record: _expire %s is not a number", v)
		}
		r.expire = time.UnixMilli(int64(ms))
		delete(members, "_expire")
	}
	if v, ok := members["_maxAge"]; ok {
		ms, err := strconv.ParseFloat(string(v), 64)
		if err != nil || ms <= 0 {
			return record{}, fmt.Errorf("record: _maxAge %s is not a positive number", v)
		}
		r.maxAge = MaxAge(time.Duration(ms) * time.Millisecond)
		delete(members, "_maxAge")
	}
	if v, ok := members["_session"]; ok {
		if string(v) == "true" {
			r.isBrowser = true
			r.maxAge = Browser
		}
		delete(members, "_session")
	}
	data, err := marshalJSON(members)
	if err != nil {
		return record{}, fmt.Errorf("record: %w", err)
	}
	r.data = data
	return r, nil
}

// appendRecord serializes data with koa's bookkeeping members for a
// session saved now with maxAge m.
func appendRecord(dst []byte, data json.RawMessage, m MaxAge, now time.Time) []byte {
	data = bytes.TrimSpace(data)
	if len(data) < 2 {
		data = json.RawMessage("{}")
	}
	dst = append(dst, data[:len(data)-1]...) // without the closing brace
	if !isEmptyObject(data) {
		dst = append(dst, ',')
	}
	if m == Browser {
		dst = append(dst, `"_session":true}`...)
		return dst
	}
	dst = append(dst, `"_expire":`...)
	dst = strconv.AppendInt(dst, now.Add(time.Duration(m)).UnixMilli(), 10)
	dst = append(dst, `,"_maxAge":`...)
	dst = strconv.AppendInt(dst, time.Duration(m).Milliseconds(), 10)
	return append(dst, '}')
}

// isEmptyObject reports whether b is the JSON object {} (any spacing).
func isEmptyObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return len(b) == 0
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
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
