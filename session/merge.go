package session

import (
	"bytes"
	"slices"
	"strings"
)

// This file applies several merge patches at once. Applying them one by
// one (appendMerged) writes the whole document again for each patch,
// which costs the number of patches times the document: a response with
// thousands of X-Session-Set headers would cost seconds. Here the patches
// are gathered into a tree of the members they change, over the document
// as it is, and the result is written once: the cost is the document plus
// the patches.

// patchedObject is a JSON object that patches change: the object as it
// was, and the members the patches have set so far.
type patchedObject struct {
	raw     []byte   // the object before the patches; nil: a new, empty one
	members []member // raw's members, sorted; read when first needed
	read    bool     // members holds raw's
	set     map[string]*patchedValue
}

// patchedValue is a member's value once patched: a value that is not an
// object, an object the patches merge into, or neither (removed).
type patchedValue struct {
	val []byte
	obj *patchedObject
}

// apply merges the object patch (checked by object) into o, as RFC 7396
// does: null removes a member, an object merges into the member (into
// nothing, when it is not an object), any other value replaces it.
func (o *patchedObject) apply(patch []byte) {
	var buf [16]member
	for _, m := range appendMembers(buf[:0], patch) { // sorted, the last of equal keys kept
		if o.set == nil {
			o.set = make(map[string]*patchedValue)
		}
		k := string(m.key)
		switch {
		case string(m.val) == "null":
			o.set[k] = &patchedValue{}
		case m.val[0] == '{':
			cur := o.set[k]
			switch {
			case cur == nil:
				var raw []byte
				if v, ok := o.rawMember(m.key); ok && v[0] == '{' {
					raw = v
				}
				cur = &patchedValue{obj: &patchedObject{raw: raw}}
				o.set[k] = cur
			case cur.obj == nil: // removed or replaced before: merged into nothing
				cur.val, cur.obj = nil, &patchedObject{}
			}
			cur.obj.apply(m.val)
		default:
			o.set[k] = &patchedValue{val: m.val}
		}
	}
}

// readMembers reads raw's members into o.members, once.
func (o *patchedObject) readMembers() {
	if !o.read {
		o.read = true
		if o.raw != nil {
			o.members = appendMembers(nil, o.raw)
		}
	}
}

// rawMember returns the value of the member key of the object as it was.
func (o *patchedObject) rawMember(key []byte) ([]byte, bool) {
	o.readMembers()
	i, ok := slices.BinarySearchFunc(o.members, key, func(m member, k []byte) int { return bytes.Compare(m.key, k) })
	if !ok {
		return nil, false
	}
	return o.members[i].val, true
}

// appendTo appends o, patched, compact and with its keys sorted, as
// appendMerged writes an object (values canonical already are copied).
func (o *patchedObject) appendTo(dst []byte) []byte {
	o.readMembers()
	keys := make([]string, 0, len(o.set))
	for k := range o.set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order, as bytes.Compare sorts the members
	rm := o.members
	w := objectWriter{dst: append(dst, '{')}
	for len(rm) > 0 || len(keys) > 0 {
		c := 0
		switch {
		case len(keys) == 0:
			c = -1
		case len(rm) == 0:
			c = 1
		default:
			c = strings.Compare(string(rm[0].key), keys[0])
		}
		if c < 0 { // not patched: kept
			w.key(rm[0].key)
			w.dst = appendValue(w.dst, rm[0].val)
			rm = rm[1:]
			continue
		}
		if c == 0 {
			rm = rm[1:]
		}
		k := keys[0]
		keys = keys[1:]
		switch v := o.set[k]; {
		case v.obj != nil:
			w.key([]byte(k))
			w.dst = v.obj.appendTo(w.dst)
		case v.val != nil:
			w.key([]byte(k))
			w.dst = appendValue(w.dst, v.val)
		}
	}
	return append(w.dst, '}')
}
