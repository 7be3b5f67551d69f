package redisstore

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands out the contexts that bound operations: each ends at
// least timeout after the operation starts, and at most one tick (a
// twentieth of the timeout) later. Operations that start within one tick
// share a context, and so one timer, because a context.WithTimeout per
// operation, registered with the request's context and removed again,
// costs as much CPU as the read's share of the pipelined round trip. At
// most about 21 contexts are live at once, whatever the timeout and the
// load.
type deadlines struct {
	timeout, tick time.Duration
	cur           atomic.Pointer[deadline]
}

type deadline struct {
	at     time.Time
	ctx    context.Context
	cancel context.CancelFunc // never called: the context ends at its deadline
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, tick: max(timeout/20, time.Microsecond)}
}

// after returns a context that ends between timeout and timeout+tick
// after now.
func (d *deadlines) after(now time.Time) context.Context {
	want := now.Add(d.timeout)
	if c := d.cur.Load(); c != nil && !c.at.Before(want) && c.at.Sub(want) <= d.tick {
		return c.ctx
	}
	at := want.Truncate(d.tick).Add(d.tick)
	ctx, cancel := context.WithDeadline(context.Background(), at)
	d.cur.Store(&deadline{at: at, ctx: ctx, cancel: cancel})
	return ctx
}
