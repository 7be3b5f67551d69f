package proxy

import (
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/sessionproxy/sessionproxy/session"
)

// The access log's reference cache gives every session SessionRef of its
// own id: from the cache for a returning one, even after another id took
// its slot and gave it back; it never keeps a new session's, nor one seen
// only once.
func TestRefCache(t *testing.T) {
	c := newRefCache()
	slot := func(id string) uint64 { return maphash.String(c.seed, id) % recentRefs }
	// Two ids that share a slot.
	a := "id-0"
	b := ""
	for i := 1; b == ""; i++ {
		if id := fmt.Sprintf("id-%d", i); slot(id) == slot(a) {
			b = id
		}
	}
	for _, step := range []struct {
		id    string
		isNew bool
	}{
		{a, false}, {a, false}, {b, false}, {a, false}, {b, false}, {"fresh", true},
	} {
		s := &session.Session{ID: step.id, IsNew: step.isNew}
		if got, want := c.of(s), SessionRef(step.id); got != want {
			t.Errorf("ref of %s = %q, want %q", step.id, got, want)
		}
	}
	if r := c.slots[slot("fresh")].Load(); r != nil && r.id == "fresh" {
		t.Error("a new session's ref was kept")
	}
	// An id seen once is not kept; seen twice in a row, it is.
	once := &session.Session{ID: "seen-once"}
	c.of(once)
	if r := c.slots[slot(once.ID)].Load(); r != nil && r.id == once.ID {
		t.Error("an id seen once was kept")
	}
	c.of(once)
	if r := c.slots[slot(once.ID)].Load(); r == nil || r.id != once.ID || r.ref != SessionRef(once.ID) {
		t.Errorf("an id seen twice was not kept: %v", r)
	}
}
