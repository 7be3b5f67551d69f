package session

// slabs keeps the MemoryStore's entries' bytes (an id and its record)
// where the garbage collector does not see them one by one: in cells of a
// few sizes, carved from 64 KiB pages. An entry is a handle of numbers,
// so the store's slots hold no pointer; the collector marks two objects
// per page (its bytes and its list of free cells), not one per session.
// With a million sessions, one object per session costs 20 ms or more of
// marking in every full collection; the figures are in
// docs/performance.md.
//
// A cell's size is the next size class up from the bytes it holds: they
// go up in steps of 16 bytes to 256, then of an eighth, so a cell wastes
// less than 16 bytes or about an eighth. A page whose cells are all free
// is given back to the collector, so a store that shrinks frees its
// memory, but for one per class (spare), kept for the class's next entry:
// otherwise a class with one live entry, rewritten, would give its page
// back and make a new one on every write (64 KiB each). A record larger
// than a page has a page of its own, never kept.
type slabs struct {
	classes [slabClasses]slabClass
}

const (
	slabPageSize = 64 << 10
	slabMinCell  = 32
	// slabClasses covers records up to 5 GB, far above any session's.
	slabClasses = 160
)

// slabSizes are the cell sizes, in bytes, of each class: from 32 in
// steps of 16 up to 256, then of an eighth each, rounded down to 16.
var slabSizes = func() (s [slabClasses]int) {
	size := slabMinCell
	for i := range s {
		s[i] = size
		size += max(16, size/8&^15)
	}
	return s
}()

type slabClass struct {
	pages []slabPage
	// partial lists pages with a free cell, last in first used; a page
	// given back or full since it was listed is skipped when met.
	partial []uint32
	// released lists pages given back, whose numbers are reused first.
	released []uint32
	// spare is 1 + the number of a page with every cell free that was
	// kept rather than given back (0: none). It is in partial, so the
	// next alloc takes it.
	spare uint32
}

type slabPage struct {
	buf    []byte   // nil: given back
	free   []uint16 // its free cells
	live   int
	listed bool // in partial, once
}

// slab is where an entry's bytes are: a cell of a page of a class.
type slab struct {
	class uint8
	cell  uint16
	page  uint32
	n     uint32 // the bytes used
}

// alloc returns a cell for n bytes, and the cell's bytes (of length n).
func (s *slabs) alloc(n int) (slab, []byte) {
	c := uint8(0)
	for slabSizes[c] < n {
		c++
	}
	size := slabSizes[c]
	cl := &s.classes[c]
	for len(cl.partial) > 0 {
		p := cl.partial[len(cl.partial)-1]
		pg := &cl.pages[p]
		if pg.buf == nil || len(pg.free) == 0 {
			cl.partial, pg.listed = cl.partial[:len(cl.partial)-1], false
			continue
		}
		cell := pg.free[len(pg.free)-1]
		pg.free = pg.free[:len(pg.free)-1]
		pg.live++
		if cl.spare == p+1 {
			cl.spare = 0 // in use again
		}
		off := int(cell) * size
		return slab{class: c, cell: cell, page: p, n: uint32(n)}, pg.buf[off : off+n : off+size]
	}
	// A new page: every cell free but the first, which it returns.
	perPage := max(1, slabPageSize/size)
	var p uint32
	if k := len(cl.released); k > 0 {
		p, cl.released = cl.released[k-1], cl.released[:k-1]
	} else {
		p = uint32(len(cl.pages))
		cl.pages = append(cl.pages, slabPage{})
	}
	pg := &cl.pages[p]
	listed := pg.listed // a page given back may still be listed in partial
	*pg = slabPage{buf: make([]byte, perPage*size), live: 1, listed: listed}
	if perPage > 1 {
		pg.free = make([]uint16, 0, perPage)
		for cell := perPage - 1; cell >= 1; cell-- {
			pg.free = append(pg.free, uint16(cell))
		}
		if !listed {
			cl.partial, pg.listed = append(cl.partial, p), true
		}
	}
	return slab{class: c, page: p, n: uint32(n)}, pg.buf[:n:size]
}

// bytes returns the bytes h holds. They change when the cell is freed
// and handed out again: the caller copies what it keeps.
func (s *slabs) bytes(h slab) []byte {
	size := slabSizes[h.class]
	off := int(h.cell) * size
	return s.classes[h.class].pages[h.page].buf[off : off+int(h.n) : off+size]
}

// free gives h's cell back; a page left with no live cell is given back
// to the garbage collector, unless it can be the class's spare.
func (s *slabs) free(h slab) {
	cl := &s.classes[h.class]
	pg := &cl.pages[h.page]
	pg.live--
	if pg.live == 0 && cl.spare == 0 && slabSizes[h.class] <= slabPageSize {
		cl.spare = h.page + 1 // kept, its cells free, below
	} else if pg.live == 0 {
		*pg = slabPage{listed: pg.listed}
		cl.released = append(cl.released, h.page)
		return
	}
	pg.free = append(pg.free, h.cell)
	if !pg.listed {
		cl.partial, pg.listed = append(cl.partial, h.page), true
	}
}
