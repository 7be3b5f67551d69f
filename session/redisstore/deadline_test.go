package redisstore

import (
	"context"
	"testing"
	"time"
)

func TestDeadlinesShareATick(t *testing.T) {
	d := newDeadlines(200 * time.Millisecond)
	if d.tick != 10*time.Millisecond {
		t.Fatalf("tick %v for a 200ms timeout, want 10ms", d.tick)
	}
	start := time.Now()
	var prev context.Context
	shared := 0
	for step := range 400 {
		now := start.Add(time.Duration(step) * 97 * time.Microsecond)
		ctx := d.after(now)
		at, ok := ctx.Deadline()
		if lo, hi := now.Add(d.timeout), now.Add(d.timeout+d.tick); !ok || at.Before(lo) || at.After(hi) {
			t.Fatalf("an operation at +%v gets deadline +%v, want within [+%v, +%v]", now.Sub(start), at.Sub(start), lo.Sub(start), hi.Sub(start))
		}
		if ctx == prev {
			shared++
		}
		prev = ctx
	}
	// 400 operations over 39 ms: a handful of contexts, not 400.
	if shared < 390 {
		t.Errorf("only %d of 400 operations shared a context", shared)
	}
}

// However long the timeout and however many operations, one timeout's
// worth of operations shares about 21 contexts: that many live at once.
func TestDeadlinesAreFew(t *testing.T) {
	for _, timeout := range []time.Duration{time.Millisecond, 2 * time.Second, time.Hour} {
		d := newDeadlines(timeout)
		start := time.Now()
		seen := map[context.Context]bool{}
		for step := range 10_000 {
			seen[d.after(start.Add(timeout*time.Duration(step)/10_000))] = true
		}
		if len(seen) > 21 {
			t.Errorf("timeout %v: %d contexts for one timeout's operations, want at most 21", timeout, len(seen))
		}
	}
}

func TestDeadlinesEnd(t *testing.T) {
	ctx := newDeadlines(20 * time.Millisecond).after(time.Now())
	select {
	case <-ctx.Done():
		if ctx.Err() != context.DeadlineExceeded {
			t.Errorf("ended with %v, want DeadlineExceeded", ctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a 20ms deadline had not ended after 5s")
	}
}

// An operation keeps its caller's sooner deadline and cancellation, and
// does not start for a caller that has already gone.
func TestBoundKeepsTheCallersDeadline(t *testing.T) {
	s := &Store{opts: Options{Timeout: time.Hour}, deadlines: newDeadlines(time.Hour)}

	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	want, _ := soon.Deadline()
	ctx, done := s.bound(soon)
	defer done()
	if at, _ := ctx.Deadline(); !at.Equal(want) {
		t.Errorf("deadline %v, want the caller's %v", at, want)
	}
	cancel()
	if ctx.Err() == nil {
		t.Error("the caller's cancellation did not reach the operation")
	}

	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	if ctx, done := s.bound(gone); ctx.Err() == nil {
		t.Error("an operation for a cancelled caller may start")
	} else {
		done()
	}

	ctx, done = s.bound(context.Background())
	defer done()
	if at, ok := ctx.Deadline(); !ok || time.Until(at) < 59*time.Minute {
		t.Errorf("without a caller's deadline: deadline %v, want the store's timeout from now", at)
	}
}
