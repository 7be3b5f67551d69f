package session

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// Cells of every size, allocated, written, freed and reused in a random
// order, each checked against a copy of what it should hold: no cell
// shares bytes with another live one, and a page whose cells are all free
// is given back, but for one spare per class of cells no larger than a
// page.
func TestSlabs(t *testing.T) {
	var s slabs
	rng := rand.New(rand.NewPCG(1, 2))
	type live struct {
		h    slab
		want []byte
	}
	var cells []live
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
		if len(cells) > 0 && rng.IntN(5) < 2 { // free one
			k := rng.IntN(len(cells))
			s.free(cells[k].h)
			cells[k] = cells[len(cells)-1]
			cells = cells[:len(cells)-1]
			continue
		}
		n := size()
		h, b := s.alloc(n)
		if len(b) != n || cap(b) != slabSizes[h.class] || cap(b) < n {
			t.Fatalf("step %d: alloc(%d) gave %d bytes, cap %d, class of %d", step, n, len(b), cap(b), slabSizes[h.class])
		}
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		copy(b, want)
		cells = append(cells, live{h, want})
		if step%1000 == 0 {
			for i, c := range cells {
				if !bytes.Equal(s.bytes(c.h), c.want) {
					t.Fatalf("step %d: cell %d (%+v) changed", step, i, c.h)
				}
			}
		}
	}
	for _, c := range cells {
		if !bytes.Equal(s.bytes(c.h), c.want) {
			t.Fatalf("cell %+v changed", c.h)
		}
		s.free(c.h)
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

// One entry of a size, rewritten again and again (a small site's only
// session, a session whose record changes size class), reuses its page:
// the page its last cell leaves is kept for the next, not given back and
// made again (64 KiB per write).
func TestSlabsRewriteOneEntry(t *testing.T) {
	var s slabs
	h, _ := s.alloc(300)
	allocs := testing.AllocsPerRun(100, func() {
		s.free(h)
		h, _ = s.alloc(300)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per rewrite, want 0", allocs)
	}
	// Two classes' only entries, each moving to the other's class: each
	// class keeps its own page.
	a, _ := s.alloc(100)
	b, _ := s.alloc(1000)
	allocs = testing.AllocsPerRun(100, func() {
		s.free(a)
		s.free(b)
		a, _ = s.alloc(1000)
		b, _ = s.alloc(100)
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
