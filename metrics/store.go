package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionproxy/sessionproxy/session"
)

// Store returns s wrapped so that every operation's duration, and every
// error (an outage, never a missing session), is recorded. With a nil
// Metrics it returns s itself. A session.RevisionStore stays one, its
// LoadRevision counted as a load and its UpdateRevision as an update.
func (m *Metrics) Store(s session.Store) session.Store {
	if m == nil || s == nil {
		return s
	}
	st := &store{next: s}
	// Each operation's series, looked up once rather than per call (and
	// so present, at zero, from the start).
	for i, op := range []string{OpLoad, OpSave, OpDelete, OpUpdate} {
		st.ops[i] = storeOp{m.storeDuration.WithLabelValues(op), m.storeErrors.WithLabelValues(op)}
	}
	if rs, ok := s.(session.RevisionStore); ok {
		return &revisionStore{store: st, next: rs}
	}
	return st
}

// store is the instrumented session.Store.
type store struct {
	next session.Store
	ops  [4]storeOp // load, save, delete, update
}

const (
	load = iota
	save
	del
	update
)

type storeOp struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// revisionStore is the instrumented session.RevisionStore.
type revisionStore struct {
	*store
	next session.RevisionStore
}

var (
	_ session.Store         = (*store)(nil)
	_ session.RevisionStore = (*revisionStore)(nil)
)

func (s *store) observe(op int, start time.Time, err error) {
	s.ops[op].duration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.ops[op].errors.Inc()
	}
}

func (s *store) Load(ctx context.Context, id string) ([]byte, bool, error) {
	start := time.Now()
	rec, ok, err := s.next.Load(ctx, id)
	s.observe(load, start, err)
	return rec, ok, err
}

func (s *revisionStore) LoadRevision(ctx context.Context, id string, have uint64) ([]byte, uint64, bool, error) {
	start := time.Now()
	rec, rev, ok, err := s.next.LoadRevision(ctx, id, have)
	s.observe(load, start, err)
	return rec, rev, ok, err
}

func (s *store) Save(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	start := time.Now()
	err := s.next.Save(ctx, id, record, ttl)
	s.observe(save, start, err)
	return err
}

func (s *store) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := s.next.Delete(ctx, id)
	s.observe(del, start, err)
	return err
}

// Update does not count an error that fn itself returned: that is the
// caller's problem with the record, not the store's.
func (s *store) Update(ctx context.Context, id string, last []byte, fn session.UpdateFunc) error {
	_, err := s.update(fn, func(fn session.UpdateFunc) (uint64, error) {
		return 0, s.next.Update(ctx, id, last, fn)
	})
	return err
}

func (s *revisionStore) UpdateRevision(ctx context.Context, id string, last []byte, fn session.UpdateFunc) (uint64, error) {
	return s.update(fn, func(fn session.UpdateFunc) (uint64, error) {
		return s.next.UpdateRevision(ctx, id, last, fn)
	})
}

// update times run, an Update or UpdateRevision of fn, and counts the
// store's error, not fn's.
func (s *store) update(fn session.UpdateFunc, run func(session.UpdateFunc) (uint64, error)) (uint64, error) {
	start := time.Now()
	var fnErr error
	rev, err := run(func(rec []byte, ok bool) ([]byte, time.Duration, error) {
		next, ttl, err := fn(rec, ok)
		fnErr = err
		return next, ttl, err
	})
	storeErr := err
	if fnErr != nil && errors.Is(err, fnErr) {
		storeErr = nil
	}
	s.observe(update, start, storeErr)
	return rev, err
}
