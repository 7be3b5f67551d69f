package session

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// Cells of every size, allocated, written, freed and reused in a random
// order, each checked against a copy of what it should hold: no cell
// shares bytes with another live one, cells moved out of sparse pages
// keep their bytes and their owners' handles follow them, and a page
// whose cells are all free is given back, but for one spare per class of
// cells no larger than a page.
func TestSlabs(t *testing.T) {
	var s slabs
	o := newSlabOwners(&s)
	rng := rand.New(rand.NewPCG(1, 2))
	size := func() int {
		switch rng.IntN(10) {
		case 0:
			return rng.IntN(200_000) // larger than a page: a page of its own
		case 1:
			return rng.IntN(8)
		default:
			return 200 + rng.IntN(200) // a signed-in user's record
		}
	}
	for step := range 20_000 {
		if o.len() > 0 && rng.IntN(5) < 2 { // free one
			o.free(rng.IntN(o.len()))
			continue
		}
		n := size()
		h, b := o.alloc(n, rng)
		if len(b) != n || cap(b) != slabSizes[h.class] || cap(b) < n {
			t.Fatalf("step %d: alloc(%d) gave %d bytes, cap %d, class of %d", step, n, len(b), cap(b), slabSizes[h.class])
		}
		if step%1000 == 0 {
			o.check(t)
		}
	}
	o.check(t)
	for o.len() > 0 {
		o.free(o.len() - 1)
	}
	for c := range s.classes {
		kept := 0
		for p, pg := range s.classes[c].pages {
			if pg.live != 0 {
				t.Errorf("class %d (%d B), page %d: %d live cells after every cell was freed", c, slabSizes[c], p, pg.live)
			}
			if pg.buf != nil {
				kept++
			}
		}
		want := 1 // the spare
		if slabSizes[c] > slabPageSize {
			want = 0 // a page of its own: never kept
		}
		if kept > want {
			t.Errorf("class %d (%d B): %d pages kept after every cell was freed, want at most %d", c, slabSizes[c], kept, want)
		}
	}
}

// A mass expiry frees cells all over the pages. The pages left sparse are
// emptied into the others and given back, so the memory held follows the
// cells still live, and every one keeps its bytes.
func TestSlabsShrink(t *testing.T) {
	var s slabs
	o := newSlabOwners(&s)
	rng := rand.New(rand.NewPCG(3, 4))
	const n, kept = 20_000, 2_000
	for range n {
		o.alloc(300, rng)
	}
	c := o.handles[o.cells[0].owner].class
	perPage := slabPageSize / slabSizes[c]
	full := pages(&s, c)
	for o.len() > kept {
		o.free(rng.IntN(o.len()))
	}
	o.check(t)
	// More than half the cells are live in every page but the spare and
	// one that could not be emptied. Without evacuation, each page would
	// still hold a tenth of its cells: all of them kept.
	if got, most := pages(&s, c), kept/(perPage/2)+2; got > most {
		t.Errorf("%d of %d cells kept in %d pages of %d cells, want at most %d", kept, n, got, perPage, most)
	} else {
		t.Logf("%d of %d cells: %d pages of %d cells held, %d when all were live", kept, n, got, perPage, full)
	}
}

// pages returns how many pages class c holds.
func pages(s *slabs, c uint8) int {
	n := 0
	for _, pg := range s.classes[c].pages {
		if pg.buf != nil {
			n++
		}
	}
	return n
}

// slabOwners owns cells of a slabs as a MemoryStore's slots do: each
// owner a handle, which the slabs update when they move its cell, and the
// bytes it should hold.
type slabOwners struct {
	s       *slabs
	handles []slab
	cells   []ownedCell // the live ones
	unused  []uint32    // owners free to take
}

type ownedCell struct {
	owner uint32
	want  []byte
}

func newSlabOwners(s *slabs) *slabOwners {
	o := &slabOwners{s: s}
	s.handle = func(owner uint32) *slab { return &o.handles[owner] }
	return o
}

func (o *slabOwners) len() int { return len(o.cells) }

// alloc takes a cell of n random bytes for a new owner.
func (o *slabOwners) alloc(n int, rng *rand.Rand) (slab, []byte) {
	var owner uint32
	if k := len(o.unused); k > 0 {
		owner, o.unused = o.unused[k-1], o.unused[:k-1]
	} else {
		owner = uint32(len(o.handles))
		o.handles = append(o.handles, slab{})
	}
	h, b := o.s.alloc(n, owner)
	o.handles[owner] = h
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	copy(b, want)
	o.cells = append(o.cells, ownedCell{owner: owner, want: want})
	return h, b
}

// free frees the k-th live cell.
func (o *slabOwners) free(k int) {
	c := o.cells[k]
	o.s.free(o.handles[c.owner])
	o.unused = append(o.unused, c.owner)
	o.cells[k] = o.cells[len(o.cells)-1]
	o.cells = o.cells[:len(o.cells)-1]
}

// check fails unless every live cell holds its bytes at its owner's
// handle, the pages' owners name the cells' owners, and each class's
// counts are its pages'.
func (o *slabOwners) check(t *testing.T) {
	t.Helper()
	for _, c := range o.cells {
		h := o.handles[c.owner]
		if !bytes.Equal(o.s.bytes(h), c.want) {
			t.Fatalf("owner %d's cell %+v changed", c.owner, h)
		}
		if pg := o.s.classes[h.class].pages[h.page]; pg.owners != nil && pg.owners[h.cell] != c.owner {
			t.Fatalf("owner %d's cell %+v is owned by %d", c.owner, h, pg.owners[h.cell])
		}
	}
	for c := range o.s.classes {
		cl := &o.s.classes[c]
		live, cells := 0, 0
		for _, pg := range cl.pages {
			if pg.buf != nil {
				live += pg.live
				cells += max(1, slabPageSize/slabSizes[c])
			}
		}
		if live != cl.live || cells != cl.cells {
			t.Fatalf("class %d: counts %d live of %d cells, its pages %d of %d", c, cl.live, cl.cells, live, cells)
		}
	}
}

// One entry of a size, rewritten again and again (a small site's only
// session, a session whose record changes size class), reuses its page:
// the page its last cell leaves is kept for the next, not given back and
// made again (64 KiB per write).
func TestSlabsRewriteOneEntry(t *testing.T) {
	var s slabs
	h, _ := s.alloc(300, 0)
	allocs := testing.AllocsPerRun(100, func() {
		s.free(h)
		h, _ = s.alloc(300, 0)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per rewrite, want 0", allocs)
	}
	// Two classes' only entries, each moving to the other's class: each
	// class keeps its own page.
	a, _ := s.alloc(100, 1)
	b, _ := s.alloc(1000, 2)
	allocs = testing.AllocsPerRun(100, func() {
		s.free(a)
		s.free(b)
		a, _ = s.alloc(1000, 1)
		b, _ = s.alloc(100, 2)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per swap of two classes' entries, want 0", allocs)
	}
}

// A cell wastes at most about an eighth of the bytes it holds (a
// seventh, with the rounding), or at most the smallest cell.
func TestSlabSizes(t *testing.T) {
	for n := range 100_000 {
		var c int
		for slabSizes[c] < n {
			c++
		}
		if waste := slabSizes[c] - n; waste > max(slabMinCell, n/7) {
			t.Fatalf("%d bytes take a cell of %d", n, slabSizes[c])
		}
	}
	if slabSizes[0] != slabMinCell || slabSizes[slabClasses-1] < 1<<31 {
		t.Errorf("classes from %d to %d bytes", slabSizes[0], slabSizes[slabClasses-1])
	}
}
