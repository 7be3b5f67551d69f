package session

import (
	"context"
	"errors"
	"time"
)

// Store keeps session records on the server, keyed by session id. The
// cookie then holds only the id.
//
// Missing is not an error: Load reports ok == false and a nil error for an
// id that does not exist or has expired. A non-nil error always means the
// store could not answer (an outage), never "not found", so that an
// outage logs nobody out.
type Store interface {
	// Load returns the record saved under id.
	Load(ctx context.Context, id string) (record []byte, ok bool, err error)
	// Save stores record under id, replacing any previous one, to expire
	// after ttl (always > 0).
	Save(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// Delete removes id. Deleting a missing id is not an error.
	Delete(ctx context.Context, id string) error
	// Update atomically replaces the record under id with what fn returns
	// for the current one (ok == false when there is none), to expire
	// after the ttl fn returns. Concurrent Updates of one id are
	// serialized or retried so that none is lost; fn may therefore run
	// more than once. If fn returns an error nothing is written and
	// Update returns that error.
	//
	// last is the record as the caller last read it (nil when it has
	// none): a store whose reads cost a round trip may first run fn on it
	// and write only if it is still the stored record, saving the read.
	// A stale last costs a retry, never an update.
	Update(ctx context.Context, id string, last []byte, fn UpdateFunc) error
}

// RevisionStore is a Store that numbers the records it holds, so that a
// caller that has read and parsed a record can ask whether it is still
// the one stored without reading it again. MemoryStore is one: the
// Manager, remembering a returning session's parse, then skips copying
// its record out of the store and comparing it.
type RevisionStore interface {
	Store
	// LoadRevision is Load that also returns the record's revision: a
	// number the store gives each record it saves (never 0) and never
	// gives again. When the record under id is still revision have
	// (have != 0), it returns ok, the revision and a nil record.
	LoadRevision(ctx context.Context, id string, have uint64) (record []byte, rev uint64, ok bool, err error)
	// UpdateRevision is Update that also returns the revision of the
	// record written, so that the writer's next load need not copy it.
	UpdateRevision(ctx context.Context, id string, last []byte, fn UpdateFunc) (rev uint64, err error)
}

// UpdateFunc computes a new record from the current one for Store.Update.
type UpdateFunc func(record []byte, ok bool) (next []byte, ttl time.Duration, err error)

// ErrUnavailable marks an error from the store: the session could not be
// read or written, and the request must fail without touching the cookie.
var ErrUnavailable = errors.New("session store unavailable")
