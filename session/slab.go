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
//
// A store that shrinks by expiry frees cells all over its pages, and a
// page with one live cell is as large as a full one. So a free that
// leaves its page at most half live, while the class's other pages have
// room for the rest, moves them there (evacuate) and gives the page back:
// the owner's handle (handle) is updated in place. The pages of a class
// that has shrunk are then more than half live, but for a spare and a
// page whose cells had nowhere to go; a free moves at most half a page.
type slabs struct {
	classes [slabClasses]slabClass
	// handle returns the handle of a cell's owner (alloc's owner), for
	// evacuate to update when it moves the cell; nil: cells never move.
	handle func(owner uint32) *slab
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
	// live counts the class's live cells, and cells the cells of its
	// pages not given back: the difference is its free cells.
	live, cells int
}

type slabPage struct {
	buf    []byte   // nil: given back
	free   []uint16 // its free cells
	owners []uint32 // each cell's owner, as alloc was told; nil with one cell a page
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

// alloc returns a cell for n bytes, owned by owner (whose handle
// s.handle returns), and the cell's bytes (of length n).
func (s *slabs) alloc(n int, owner uint32) (slab, []byte) {
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
		if pg.owners != nil {
			pg.owners[cell] = owner
		}
		pg.live++
		cl.live++
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
	cl.live++
	cl.cells += perPage
	if perPage > 1 {
		pg.owners = make([]uint32, perPage)
		pg.owners[0] = owner
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
// to the garbage collector, unless it can be the class's spare, and a
// page left at most half live is emptied into the class's others when
// they have room.
func (s *slabs) free(h slab) {
	cl := &s.classes[h.class]
	pg := &cl.pages[h.page]
	pg.live--
	cl.live--
	if pg.live == 0 && cl.spare == 0 && slabSizes[h.class] <= slabPageSize {
		cl.spare = h.page + 1 // kept, its cells free, below
	} else if pg.live == 0 {
		s.release(h.class, h.page)
		return
	}
	pg.free = append(pg.free, h.cell)
	if !pg.listed {
		cl.partial, pg.listed = append(cl.partial, h.page), true
	}
	if perPage := len(pg.owners); s.handle != nil && pg.live > 0 && pg.live*2 <= perPage {
		room := cl.cells - cl.live - (perPage - pg.live) // free cells in the other pages
		if cl.spare != 0 {
			room -= perPage // filling the spare instead would free nothing
		}
		if room >= pg.live {
			s.evacuate(h.class, h.page)
		}
	}
}

// release gives page p of class c back to the garbage collector.
func (s *slabs) release(c uint8, p uint32) {
	cl := &s.classes[c]
	pg := &cl.pages[p]
	cl.cells -= max(1, slabPageSize/slabSizes[c])
	*pg = slabPage{listed: pg.listed}
	cl.released = append(cl.released, p)
}

// evacuate moves page p's live cells to other pages of class c, which
// have room for them (free found it), updates their owners' handles, and
// gives the page back.
func (s *slabs) evacuate(c uint8, p uint32) {
	cl := &s.classes[c]
	size := slabSizes[c]
	pg := &cl.pages[p]
	var free [slabPageSize / slabMinCell / 64]uint64 // a bit per free cell
	for _, cell := range pg.free {
		free[cell/64] |= 1 << (cell % 64)
	}
	// No cell of p is offered any more: alloc drops p from partial when
	// it meets it there.
	pg.free = pg.free[:0]
	moved := 0
	for cell := range len(pg.owners) {
		if free[cell/64]&(1<<(cell%64)) != 0 {
			continue
		}
		owner := cl.pages[p].owners[cell]
		h := s.handle(owner)
		to, b := s.alloc(int(h.n), owner)
		off := cell * size
		copy(b, cl.pages[p].buf[off:off+int(h.n)]) // p indexed again: alloc may have grown pages
		*h = to
		moved++
	}
	cl.live -= moved
	cl.pages[p].live = 0
	s.release(c, p)
}
