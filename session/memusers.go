package session

import (
	"container/heap"
	"context"
	"time"
)

// This file holds the MemoryStore's user index (UserIndex): for each
// user, the ids of their sessions, each listed until a time. Like the
// Redis store's sorted sets, a user's list ends with its last listing,
// and a list's ended listings are dropped as it grows, so the index
// stays the size of the listings that have not ended, however many
// users have come and gone, and listing a session costs the same for a
// user with a thousand sessions as for one with one.

// userList is one user's listings.
type userList struct {
	name  string
	until map[string]time.Time // id → listed until
	end   time.Time            // the latest until: when the whole list ends
	heap  int                  // its place in MemoryStore.userEnds
	// swept is how many listings the list kept at its last sweep of
	// the ended ones; it is swept again once it has doubled (and grown
	// by sweepSlack), so each listing pays for a sweep once.
	swept int
}

// sweepSlack is how many listings a list grows by, past double its size
// after the last sweep, before it is swept again: a user's few sessions
// are not swept on every listing.
const sweepSlack = 8

// AddUser lists id under user for at least ttl. It also drops up to
// expiredPerWrite users whose lists have ended.
func (s *MemoryStore) AddUser(ctx context.Context, user, id string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.dropEndedUsers(now, expiredPerWrite)
	l := s.users[user]
	if l == nil {
		l = &userList{name: user, until: map[string]time.Time{}}
		s.users[user] = l
		heap.Push(&s.userEnds, l)
	}
	until := now.Add(ttl)
	if until.After(l.until[id]) {
		l.until[id] = until
	}
	if until.After(l.end) {
		l.end = until
		heap.Fix(&s.userEnds, l.heap)
	}
	if len(l.until) >= 2*l.swept+sweepSlack {
		for other, ends := range l.until {
			if !now.Before(ends) {
				delete(l.until, other)
			}
		}
		l.swept = len(l.until)
	}
	return nil
}

// dropEndedUsers removes up to limit users whose lists have ended: all
// their listings have. s.mu is held.
func (s *MemoryStore) dropEndedUsers(now time.Time, limit int) {
	for ; limit > 0 && len(s.userEnds) > 0 && !now.Before(s.userEnds[0].end); limit-- {
		l := heap.Pop(&s.userEnds).(*userList)
		delete(s.users, l.name)
	}
}

// RemoveUser takes id off user's list.
func (s *MemoryStore) RemoveUser(ctx context.Context, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unlist(user, id)
	return nil
}

// unlist takes id off user's list, and the list off the index when it is
// left empty. s.mu is held.
func (s *MemoryStore) unlist(user, id string) {
	l := s.users[user]
	if l == nil {
		return
	}
	delete(l.until, id)
	if len(l.until) == 0 {
		heap.Remove(&s.userEnds, l.heap)
		delete(s.users, user)
	}
}

// UserSessions returns the sessions listed under user, with their
// records. The listings are read under one hold of the store's lock, the
// records userBatch at a time, each batch under a hold of its own: a
// record saved or ended between two batches is read as it is then.
func (s *MemoryStore) UserSessions(ctx context.Context, user string) ([]Listed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	now := s.now()
	var out []Listed
	if l := s.users[user]; l != nil {
		out = make([]Listed, 0, len(l.until))
		for id, until := range l.until {
			if !now.Before(until) {
				s.unlist(user, id)
				continue
			}
			out = append(out, Listed{Ref: id})
		}
	}
	s.mu.Unlock()
	for start := 0; start < len(out); start += userBatch {
		s.mu.Lock()
		for k := start; k < min(start+userBatch, len(out)); k++ {
			if i, ok := s.live(out[k].Ref); ok {
				out[k].Record = clone(s.record(i))
			}
		}
		s.mu.Unlock()
	}
	return out, nil
}

// userBatch is how many records UserSessions copies under one hold of
// the store's lock. A user can have many sessions (a script that signs
// in again and again), and every request waits while the lock is held:
// copying a hundred thousand records at once held it for milliseconds
// (BenchmarkMemoryStoreUserSessions).
const userBatch = 256

// userHeap orders users' lists by when they end (container/heap).
type userHeap []*userList

func (h userHeap) Len() int           { return len(h) }
func (h userHeap) Less(a, b int) bool { return h[a].end.Before(h[b].end) }
func (h userHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].heap, h[b].heap = a, b
}
func (h *userHeap) Push(x any) {
	l := x.(*userList)
	l.heap = len(*h)
	*h = append(*h, l)
}
func (h *userHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}
