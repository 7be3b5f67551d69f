package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		data   string
		expire int64 // ms; 0: none
		maxAge MaxAge
	}{
		{"koa layout", `{"a":1,"b":{"c":[1,"x"]},"_expire":1700003600123,"_maxAge":3600000}`, `{"a":1,"b":{"c":[1,"x"]}}`, 1700003600123, MaxAge(time.Hour)},
		{"only bookkeeping", `{"_expire":1700003600123,"_maxAge":3600000}`, `{}`, 1700003600123, MaxAge(time.Hour)},
		{"bookkeeping first", `{"_expire":1700003600123,"_maxAge":3600000,"a":1,"b":2}`, `{"a":1,"b":2}`, 1700003600123, MaxAge(time.Hour)},
		{"bookkeeping between", `{"a":1,"_maxAge":3600000,"b":"}","_expire":1700003600123,"c":null}`, `{"a":1,"b":"}","c":null}`, 1700003600123, MaxAge(time.Hour)},
		{"browser", `{"a":true,"_session":true}`, `{"a":true}`, 0, Browser},
		{"browser wins over maxAge", `{"_session":true,"_maxAge":5000}`, `{}`, 0, Browser},
		{"_session false is cut", `{"a":1,"_session":false}`, `{"a":1}`, 0, 0},
		{"no bookkeeping kept verbatim", `{ "b" : 2 , "a" : [ 1 ] }`, `{ "b" : 2 , "a" : [ 1 ] }`, 0, 0},
		{"spacing around", " \n{\"a\":1 , \"_expire\" : 1e3 }\t", `{"a":1}`, 1000, 0},
		{"nested bookkeeping names stay", `{"u":{"_expire":1,"_maxAge":"x"},"_maxAge":1000}`, `{"u":{"_expire":1,"_maxAge":"x"}}`, 0, MaxAge(time.Second)},
		{"escaped key", `{"\u005fexpire":2000,"a\"b":"c\\"}`, `{"a\"b":"c\\"}`, 2000, 0},
		{"quotes and brackets in strings", `{"s":"{[\"]}","_expire":3000}`, `{"s":"{[\"]}"}`, 3000, 0},
		{"big integers untouched", `{"n":12345678901234567890123,"_expire":3000}`, `{"n":12345678901234567890123}`, 3000, 0},
		{"empty", `{}`, `{}`, 0, 0},
		{"the proxy's stamps are cut", `{"a":1,"_created":1700000000000,"_used":1700000001000,"_expire":3000,"_maxAge":1000}`, `{"a":1}`, 3000, MaxAge(time.Second)},
		{"every reserved member is cut", `{"_flashes":["x"],"a":1,"_user_id":"7"}`, `{"a":1}`, 0, 0},
		{"a tombstone", `{"_ended":true,"_expire":0}`, `{}`, 0, 0},
		// koa's layout, read from the end unless the data holds a reserved
		// member (spelled plainly or escaped) or nests too deep.
		{"koa layout, reserved member in the data", `{"_flashes":["x"],"a":2,"_expire":3000,"_maxAge":1000}`, `{"a":2}`, 3000, MaxAge(time.Second)},
		{"koa layout, escaped reserved member", `{"a":2,"\u005fx":1,"_expire":3000,"_maxAge":1000}`, `{"a":2}`, 3000, MaxAge(time.Second)},
		{"koa layout, reserved names below the top", `{"u":{"_x":[1,{"_y":2}]},"a":"_z","_expire":3000,"_maxAge":1000}`, `{"u":{"_x":[1,{"_y":2}]},"a":"_z"}`, 3000, MaxAge(time.Second)},
		{"koa layout, browser session", `{"a":[1,2],"_session":true}`, `{"a":[1,2]}`, 0, Browser},
		// A member given twice has its last value, as JSON.parse (and so
		// koa-session) reads it, even where the first is not valid.
		{"the last _maxAge", `{"_maxAge":0,"_maxAge":1000}`, `{}`, 0, MaxAge(time.Second)},
		{"the last _expire", `{"_expire":"soon","a":1,"_expire":3000}`, `{"a":1}`, 3000, 0},
		{"the last _session", `{"_session":true,"_session":false,"_maxAge":1000}`, `{}`, 0, MaxAge(time.Second)},
		{"the last stamps", `{"_created":"x","_used":null,"_created":1,"_used":2,"_expire":3000}`, `{}`, 3000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRecord([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(r.data) != tc.data {
				t.Errorf("data %s, want %s", r.data, tc.data)
			}
			var expire int64
			if !r.expire.IsZero() {
				expire = r.expire.UnixMilli()
			}
			if expire != tc.expire || r.maxAge != tc.maxAge {
				t.Errorf("expire %d maxAge %v, want %d %v", expire, r.maxAge, tc.expire, tc.maxAge)
			}
		})
	}
}

func TestParseRecordErrors(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"a":1}x`, `{"a":1}{}`, `{"a":}`,
		`{"_expire":"soon"}`, `{"_maxAge":0}`, `{"_maxAge":-5}`, `{"_maxAge":null}`,
		`{"_created":"x"}`, `{"_used":null}`,
		`{"_maxAge":1000,"_maxAge":0}`, `{"_expire":1,"_expire":"later"}`, `{"_used":1,"_used":"x"}`,
		"{\"a\":\"\xff\"}", "{\"a\xed\xa0\x80\":1,\"_expire\":1,\"_maxAge\":1}",
	} {
		t.Run(in, func(t *testing.T) {
			if r, err := parseRecord([]byte(in)); err == nil {
				t.Errorf("parseRecord(%q) = %+v, want an error", in, r)
			}
		})
	}
}

// parseRecordMap is the straightforward decoding parseRecord must agree
// with: decode every member, drop the bookkeeping ones, keep the rest.
func parseRecordMap(b []byte) (record, error) {
	var members map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&members); err != nil || members == nil || !json.Valid(b) {
		return record{}, fmt.Errorf("not an object")
	}
	if tooDeep(b) {
		return record{}, errTooDeep // the proxy's bound, which encoding/json does not have
	}
	if !utf8.Valid(b) {
		return record{}, fmt.Errorf("not UTF-8") // what JSON.stringify writes, and the token carries
	}
	var r record
	if v, ok := members["_expire"]; ok {
		ms, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return record{}, err
		}
		r.expire = time.UnixMilli(int64(ms))
	}
	if v, ok := members["_maxAge"]; ok {
		ms, err := strconv.ParseFloat(string(v), 64)
		if err != nil || ms <= 0 {
			return record{}, fmt.Errorf("bad _maxAge")
		}
		r.maxAge = LongestMaxAge // koa's maxAge past the proxy's longest
		if ms*1e6 < float64(LongestMaxAge) {
			r.maxAge = MaxAge(time.Duration(ms) * time.Millisecond)
		}
	}
	if v, ok := members["_session"]; ok && string(v) == "true" {
		r.isBrowser, r.maxAge = true, Browser
	}
	for _, k := range []string{"_created", "_used"} {
		if v, ok := members[k]; ok {
			ms, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return record{}, fmt.Errorf("bad %s", k)
			}
			if k == "_created" {
				r.created = time.UnixMilli(int64(ms))
			} else {
				r.used = time.UnixMilli(int64(ms))
			}
		}
	}
	r.ended = string(members["_ended"]) == "true"
	for k := range members {
		if strings.HasPrefix(k, "_") {
			delete(members, k) // reserved: never data
		}
	}
	r.data, _ = json.Marshal(members)
	return r, nil
}

// proxyWritesData reports whether data is what the proxy may write as a
// record's data: an object without a reserved ("_") top-level member,
// nested no deeper than MaxDepth.
func proxyWritesData(data []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil || members == nil || tooDeep(data) {
		return false
	}
	for k := range members {
		if strings.HasPrefix(k, "_") {
			return false
		}
	}
	return true
}

// sameBookkeeping reports whether a and b have the same bookkeeping
// members.
func sameBookkeeping(a, b record) bool {
	return a.expire.Equal(b.expire) && a.maxAge == b.maxAge && a.isBrowser == b.isBrowser &&
		a.created.Equal(b.created) && a.used.Equal(b.used) && a.ended == b.ended
}

// sameJSON reports whether a and b are the same JSON text but for white
// space.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// TestOwnRecordFromItsEnd checks that every layout appendRecord writes is
// read from its end (cutBookkeeping), not walked, and read as scanRecord
// reads it.
func TestOwnRecordFromItsEnd(t *testing.T) {
	at := time.UnixMilli(1767225600123)
	for _, data := range []string{`{}`, `{"n":1}`, string(scaleUser(7)), `{"s":",\"_used\":5","x":{"_expire":1,"_maxAge":2}}`, `{"n":5}`} {
		for _, m := range []MaxAge{Browser, MaxAge(time.Hour)} {
			for _, st := range []stamps{{}, {created: at}, {used: at.Add(time.Second)}, {created: at, used: at.Add(time.Second), expire: at.Add(time.Minute)}} {
				rec := appendRecord(nil, json.RawMessage(data), m, at, st)
				t.Run(string(rec), func(t *testing.T) {
					if _, _, ok := cutBookkeeping(rec); !ok {
						t.Fatalf("cutBookkeeping(%s) did not read it", rec)
					}
					own, err := parseOwnRecord(rec)
					if err != nil {
						t.Fatal(err)
					}
					want, err := scanRecord(bytes.Clone(rec))
					if err != nil {
						t.Fatal(err)
					}
					if string(own.data) != string(want.data) || !sameBookkeeping(own, want) {
						t.Errorf("from its end: %s %+v\nwalked:       %s %+v", own.data, own, want.data, want)
					}
				})
			}
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"_expire":1700003600123,"_maxAge":3600000}`,
		`{"_session":true,"x":{"y":[1,2,{"z":"}"}]}}`,
		`{"\u005fmaxAge":5,"a":"\"","b":[]}`,
		`{}`, `[1]`, `{"a":1}junk`,
		`{"a":1,"_created":1700000000000,"_used":1700000001000,"_flashes":[1],"_expire":1700003600123,"_maxAge":3600000}`,
		`{"_ended":true,"_expire":0}`,
		`{"s":",\"_used\":5","_created":1767225600000,"_used":1767225600123,"_expire":1767312000000,"_maxAge":86400000}`,
		`{"a_expire":1,"_maxAge":2}`, `{"x":1,"a_used":5,"_expire":1,"_maxAge":2}`, `{"x":[1,"_used":5,"_expire":1,"_maxAge":2}`,
		`{"a":1, "_expire":1,"_maxAge":2}`,
		`{"_x":1,"a":2,"_expire":1,"_maxAge":2}`, `{"a":1,"\u005fx":1,"_used":3,"_expire":1,"_maxAge":2}`,
		`{"u":{"_x":[1,{"_y":2}]},"a":"_z","_expire":1,"_maxAge":2}`,
		`{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `,"_expire":1,"_maxAge":2}`,
		// Nesting at the bound and past it, in the data and in a
		// bookkeeping member.
		`{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `,"_expire":1}`,
		`{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `,"_expire":1}`,
		`{"_flashes":` + strings.Repeat(`{"x":`, MaxDepth) + `1` + strings.Repeat("}", MaxDepth) + `}`,
		// Numbers read without strconv and with it.
		`{"_expire":-5,"_maxAge":1.5e3,"_created":-0,"_used":0.5}`,
		`{"_expire":123456789012345,"_maxAge":1234567890123456}`,
		`{"_expire":12345678901234567890,"_maxAge":1E2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseRecord(b)
		// A koa cookie's record, parsed in place: what parseRecord gives.
		if in, ierr := parseRecordInPlace(bytes.Clone(b)); (ierr != nil) != (err != nil) || !bytes.Equal(in.data, got.data) || !sameBookkeeping(in, got) {
			t.Fatalf("parseRecordInPlace(%q) = %q %v, parseRecord %q %v", b, in.data, ierr, got.data, err)
		}
		// A secure cookie's record, unvalidated: anything at all is an
		// error or a record, never a panic, and valid JSON in UTF-8 gives
		// what parseRecord gives (up to white space in the data), unless
		// its fast path took as data what the proxy never writes there.
		own, oerr := parseOwnRecord(bytes.Clone(b))
		if in, err := parseOwnRecordInPlace(bytes.Clone(b)); (err != nil) != (oerr != nil) || !bytes.Equal(in.data, own.data) || !sameBookkeeping(in, own) {
			t.Fatalf("parseOwnRecordInPlace(%q) = %q %v, parseOwnRecord %q %v", b, in.data, err, own.data, oerr)
		}
		if json.Valid(b) && oerr == nil && !json.Valid(own.data) {
			t.Fatalf("parseOwnRecord(%q) = %q, not JSON", b, own.data)
		}
		if json.Valid(b) && utf8.Valid(b) && (oerr != nil || proxyWritesData(own.data)) &&
			((oerr != nil) != (err != nil) || err == nil && (!sameJSON(own.data, got.data) || !sameBookkeeping(own, got))) {
			t.Fatalf("parseOwnRecord(%q) = %q %v, parseRecord %q %v", b, own.data, oerr, got.data, err)
		}
		want, werr := parseRecordMap(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("parseRecord(%q): error %v, reference %v", b, err, werr)
		}
		if err != nil {
			return
		}
		// Compare the data as decoded values: parseRecord keeps the
		// original bytes, the reference re-encodes them. Numbers stay
		// as written (1E700 is valid JSON, and no float64).
		decode := func(b []byte) (any, error) {
			var v any
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			return v, d.Decode(&v)
		}
		gd, err := decode(got.data)
		if err != nil {
			t.Fatalf("parseRecord(%q) data %q is not JSON: %v", b, got.data, err)
		}
		wd, _ := decode(want.data)
		if !reflect.DeepEqual(gd, wd) || got.expire != want.expire || got.maxAge != want.maxAge || got.isBrowser != want.isBrowser ||
			!got.created.Equal(want.created) || !got.used.Equal(want.used) || got.ended != want.ended {
			t.Fatalf("parseRecord(%q) = %q %v %v, reference %q %v %v", b, got.data, got.expire, got.maxAge, want.data, want.expire, want.maxAge)
		}
	})
}
