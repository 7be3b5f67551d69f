package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// A record is a session serialized the way koa-session serializes it: the
// data object with koa's bookkeeping members appended, either
// "_expire" (ms since the epoch) and "_maxAge" (ms), or "_session": true
// for a Browser session. It is the payload of a koa cookie and the value a
// server-side store keeps, in both formats.
//
// The proxy keeps its own bookkeeping in "_"-prefixed members too, which
// koa-session ignores (its toJSON leaves out every "_" member): "_created"
// (ms: the session's start or last renew) and "_used" (ms: its last use
// written), when session timeouts or a user index need them, and
// "_ended": true in the tombstone a store holds for an ended session.
// Every other top-level "_" member is dropped: the data never has one.

// record holds a decoded record.
type record struct {
	data      json.RawMessage
	expire    time.Time // zero: no _expire
	maxAge    MaxAge    // 0: no _maxAge and no _session
	isBrowser bool
	created   time.Time // zero: no _created
	used      time.Time // zero: no _used
	ended     bool      // a tombstone: "_ended": true
}

// parseRecord decodes a koa-layout record. It cuts koa's bookkeeping
// members out of the top-level object and keeps the rest of the bytes as
// they are: the data is neither decoded nor re-encoded, since a request
// that only reads its session never needs more.
func parseRecord(b []byte) (record, error) { return parseValid(b, false) }

// parseRecordInPlace is parseRecord for a record nobody reads after (a
// koa cookie's payload): the data it returns may be b's bytes, its
// closing brace written over the comma before the bookkeeping, rather
// than a copy of them.
func parseRecordInPlace(b []byte) (record, error) { return parseValid(b, true) }

func parseValid(b []byte, inPlace bool) (record, error) {
	// Valid before trimming: JSON's white space is four characters, and
	// bytes.TrimSpace would also drop others (\v, \f) that JSON.parse,
	// and so koa-session, refuses.
	if nestsTooDeep(b) {
		return record{}, fmt.Errorf("record: %w", errTooDeep)
	}
	// JSON.stringify writes UTF-8 (a lone surrogate as an escape), so no
	// Koa app wrote a record that is not; and the data goes into the
	// token, whose JSON every upstream's library must be able to read.
	if !utf8.Valid(b) {
		return record{}, errors.New("record: not UTF-8")
	}
	if !validJSON(b) {
		return record{}, errors.New("record: invalid JSON")
	}
	// koa-session's layout, and the proxy's: the bookkeeping last. The
	// data is then taken as it is once it is known to hold nothing that
	// scanRecord would cut or refuse.
	if r, end, ok := cutBookkeeping(b); ok && plainData(b[:end]) {
		return withData(b, r, end, inPlace), nil
	}
	return scanRecord(b)
}

// parseOwnRecord decodes a record the proxy wrote itself, from valid
// JSON alone: a record it has just stored. It skips parseRecord's
// validation, and reads the bookkeeping from the end where the proxy
// writes it. Should such a record be malformed anyway (a stolen key), it
// is an error, never a panic.
func parseOwnRecord(b []byte) (record, error) { return parseOwn(b, false) }

// parseOwnRecordInPlace is parseOwnRecord for a record nobody reads
// after (a secure cookie's payload), as parseRecordInPlace is
// parseRecord's.
func parseOwnRecordInPlace(b []byte) (record, error) { return parseOwn(b, true) }

func parseOwn(b []byte, inPlace bool) (r record, err error) {
	defer func() {
		if recover() != nil {
			r, err = record{}, errors.New("record: malformed")
		}
	}()
	if r, end, ok := cutBookkeeping(b); ok {
		return withData(b, r, end, inPlace), nil
	}
	return scanRecord(b)
}

// withData completes the record cutBookkeeping read from b with its data,
// b[:end] closed by a brace: in place (over the comma at b[end]) or a
// copy.
func withData(b []byte, r record, end int, inPlace bool) record {
	switch {
	case end == 0:
		r.data = json.RawMessage("{}")
	case inPlace:
		b[end] = '}'
		r.data = b[: end+1 : end+1]
	default:
		r.data = append(b[:end:end], '}')
	}
	return r
}

// cutBookkeeping reads a record's bookkeeping members from its end, where
// appendRecord and koa-session put them, without walking the data:
// ["_created":ms,]["_used":ms,] then "_expire":ms,"_maxAge":ms} or
// "_session":true}. It returns them and end, the index of the comma
// before them (or 0, the opening brace, when the data is empty): the data
// is b[:end] closed by a brace. ok is false for any other layout, which
// scanRecord reads.
//
// In valid JSON the members it finds are top-level ones: each starts
// with a quote after a comma or the opening brace, which only a key can.
// The data before them is what scanRecord would keep as it is when it
// has no top-level "_" member and nests no deeper than MaxDepth: so in
// what the proxy writes (it never writes such data), and in a validated
// record once plainData says so.
func cutBookkeeping(b []byte) (r record, end int, ok bool) {
	last := len(b) - 1
	if last < 1 || b[0] != '{' || b[last] != '}' {
		return record{}, 0, false
	}
	var at int
	if bytes.HasSuffix(b[:last], []byte(`"_session":true`)) {
		at = last - len(`"_session":true`)
		r.isBrowser, r.maxAge = true, Browser
	} else {
		maxAge, i, ok := cutTailMember(b, last, "_maxAge")
		if !ok || maxAge <= 0 || b[i-1] != ',' {
			return record{}, 0, false
		}
		expire, j, ok := cutTailMember(b, i-1, "_expire")
		if !ok {
			return record{}, 0, false
		}
		r.expire, r.maxAge, at = time.UnixMilli(expire), maxAgeMillis(float64(maxAge)), j
	}
	if b[at-1] == ',' {
		if used, i, ok := cutTailMember(b, at-1, "_used"); ok {
			r.used, at = time.UnixMilli(used), i
		}
	}
	if b[at-1] == ',' {
		if created, i, ok := cutTailMember(b, at-1, "_created"); ok {
			r.created, at = time.UnixMilli(created), i
		}
	}
	if at-1 > 0 && b[at-1] != ',' {
		return record{}, 0, false
	}
	return r, at - 1, true
}

// cutTailMember reads the member "name":ms that ends at b[end], ms a
// non-negative integer of at most 15 digits (as the proxy writes them),
// and returns ms and the index of its opening quote.
func cutTailMember(b []byte, end int, name string) (int64, int, bool) {
	var ms, unit int64 = 0, 1
	i := end
	for ; i > 0 && end-i < 15 && '0' <= b[i-1] && b[i-1] <= '9'; i-- {
		ms += int64(b[i-1]-'0') * unit
		unit *= 10
	}
	key := i - len(name) - 3 // "name":
	if i == end || (b[i] == '0' && end-i > 1) || key < 1 ||
		b[i-1] != ':' || b[i-2] != '"' || string(b[key+1:i-2]) != name || b[key] != '"' {
		return 0, 0, false // no digits, more than 15, a leading zero, or another member
	}
	return ms, key, true
}

// scanRecord is parseRecord after the validation: it walks b as valid
// JSON.
func scanRecord(b []byte) (record, error) {
	b = bytes.TrimSpace(b)
	if b[0] != '{' {
		return record{}, fmt.Errorf("record: %w", errNotObject)
	}
	var last bookkeeping
	var data []byte // nil while every member so far is kept: b[:keptTo]
	keptTo := 1     // end of the kept prefix of b, while data is nil
	cut := false
	for i := skipSpace(b, 1); b[i] != '}'; {
		start := i
		keyEnd := skipString(b, i)
		colon := skipSpace(b, keyEnd)
		valStart := skipSpace(b, colon+1)
		valEnd, ok := skipValueWithin(b, valStart, 1)
		if !ok {
			return record{}, fmt.Errorf("record: %w", errTooDeep)
		}
		next := skipSpace(b, valEnd)
		if b[next] == ',' {
			next = skipSpace(b, next+1)
		}
		key, v := b[start+1:keyEnd-1], b[valStart:valEnd]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(b[start:keyEnd], &k) // valid JSON: cannot fail
			key = []byte(k)
		}
		switch string(key) {
		case "_expire":
			last.expire = v
		case "_maxAge":
			last.maxAge = v
		case "_session":
			last.session = v
		case "_created":
			last.created = v
		case "_used":
			last.used = v
		case "_ended":
			last.ended = v
		default:
			if len(key) > 0 && key[0] == '_' {
				break // reserved: never part of the data
			}
			switch {
			case !cut:
				keptTo = valEnd
			case data == nil:
				data = append(make([]byte, 0, len(b)), b[:keptTo]...)
				if keptTo > 1 {
					data = append(data, ',')
				}
				data = append(data, b[start:valEnd]...)
			default:
				data = append(append(data, ','), b[start:valEnd]...)
			}
			i = next
			continue
		}
		cut = true
		i = next
	}
	r, err := last.read()
	if err != nil {
		return record{}, err
	}
	switch {
	case !cut:
		r.data = b
	case data != nil:
		r.data = append(data, '}')
	case keptTo == 1:
		r.data = json.RawMessage("{}")
	default: // koa's own layout: the bookkeeping members come last
		r.data = append(b[:keptTo:keptTo], '}')
	}
	return r, nil
}

// bookkeeping holds the raw values of a record's bookkeeping members
// (nil: absent), the last of each: a key given twice has its last value,
// as JSON.parse, and so koa-session, reads it.
type bookkeeping struct{ expire, maxAge, session, created, used, ended []byte }

// read checks the values and returns the record they make, without data.
func (m bookkeeping) read() (record, error) {
	var r record
	var err error
	if r.expire, err = lastStamp("_expire", m.expire); err != nil {
		return record{}, err
	}
	if m.maxAge != nil {
		ms, err := parseNumber(m.maxAge)
		if err != nil || ms <= 0 {
			return record{}, fmt.Errorf("record: _maxAge %s is not a positive number", m.maxAge)
		}
		r.maxAge = maxAgeMillis(ms)
	}
	if string(m.session) == "true" {
		r.isBrowser, r.maxAge = true, Browser
	}
	if r.created, err = lastStamp("_created", m.created); err != nil {
		return record{}, err
	}
	if r.used, err = lastStamp("_used", m.used); err != nil {
		return record{}, err
	}
	r.ended = string(m.ended) == "true"
	return r, nil
}

// lastStamp reads the value v of the member name, a time in milliseconds
// since the epoch (nil: absent, the zero time).
func lastStamp(name string, v []byte) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	ms, err := parseNumber(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("record: %s %s is not a number", name, v)
	}
	return time.UnixMilli(int64(ms)), nil
}

// parseNumber parses a bookkeeping member's value as strconv.ParseFloat
// does. The proxy and koa-session write integers of milliseconds, which
// it reads itself when they have at most 15 digits (exact in a float64).
func parseNumber(v []byte) (float64, error) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return strconv.ParseFloat(string(v), 64)
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return strconv.ParseFloat(string(v), 64)
		}
		n = n*10 + int(c-'0')
	}
	if len(digits) < len(v) {
		return -float64(n), nil
	}
	return float64(n), nil
}

// stamps are the proxy's own bookkeeping members of a record; zero times
// are left out.
type stamps struct {
	created, used time.Time
	// expire, when not zero, is written as "_expire" instead of now plus
	// the maxAge: a session touched for its idle timeout keeps its expiry.
	expire time.Time
}

// tombstone is the record a store holds for a session that was ended
// while requests may still be in flight on it: they find it ended rather
// than missing, so that a session that was about to be created (a renew's
// new id) is not. It is an object whose "_expire" has passed, so that
// koa-session, sharing a store, takes it for an expired session.
var tombstone = []byte(`{"_ended":true,"_expire":0}`)

// appendRecord serializes data with koa's bookkeeping members for a
// session saved now with maxAge m, and the proxy's stamps.
func appendRecord(dst []byte, data json.RawMessage, m MaxAge, now time.Time, st stamps) []byte {
	data = bytes.TrimSpace(data)
	if len(data) < 2 {
		data = json.RawMessage("{}")
	}
	dst = append(dst, data[:len(data)-1]...) // without the closing brace
	if !isEmptyObject(data) {
		dst = append(dst, ',')
	}
	if !st.created.IsZero() {
		dst = append(dst, `"_created":`...)
		dst = strconv.AppendInt(dst, st.created.UnixMilli(), 10)
		dst = append(dst, ',')
	}
	if !st.used.IsZero() {
		dst = append(dst, `"_used":`...)
		dst = strconv.AppendInt(dst, st.used.UnixMilli(), 10)
		dst = append(dst, ',')
	}
	if m == Browser {
		dst = append(dst, `"_session":true}`...)
		return dst
	}
	expire := st.expire
	if expire.IsZero() {
		expire = now.Add(time.Duration(m))
	}
	dst = append(dst, `"_expire":`...)
	dst = strconv.AppendInt(dst, expire.UnixMilli(), 10)
	dst = append(dst, `,"_maxAge":`...)
	dst = strconv.AppendInt(dst, time.Duration(m).Milliseconds(), 10)
	return append(dst, '}')
}
