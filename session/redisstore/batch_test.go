package redisstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// Many concurrent commands, more than a batch holds, each get their own
// result; a goroutine's commands run in its order; and once the queue has
// stayed empty for the idle time no goroutine is left sending.
func TestBatcher(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	b := newBatcher(client, newDeadlines(5*time.Second))
	b.idle = 50 * time.Millisecond
	ctx := t.Context()
	before := runtime.NumGoroutine()

	const workers, each = 50, 20 // 1000 commands, batches of at most maxBatch
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("batch:%d", w)
				if err := b.do(ctx, redis.NewStatusCmd(ctx, "set", key, i)); err != nil {
					errs <- fmt.Errorf("SET %s: %w", key, err)
					return
				}
				get := redis.NewStringCmd(ctx, "get", key)
				if err := b.do(ctx, get); err != nil || get.Val() != fmt.Sprint(i) {
					errs <- fmt.Errorf("GET %s after SET %d: %q, %v", key, i, get.Val(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for deadline := time.Now().Add(5 * time.Second); b.running.Load() || runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("still sending after the queue emptied: running %v, %d goroutines (%d before)", b.running.Load(), runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// An idle batcher starts again for the next command.
	get := redis.NewStringCmd(ctx, "get", "batch:0")
	if err := b.do(ctx, get); err != nil || get.Val() != fmt.Sprint(each-1) {
		t.Errorf("GET after idling: %q, %v", get.Val(), err)
	}
}

// The sending goroutine waits for the next command rather than exiting
// as soon as the queue is empty, and exits once it has been idle for
// b.idle.
func TestBatcherWaitsBeforeExiting(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(srv.Client(t), newDeadlines(5*time.Second))
	b.idle = 500 * time.Millisecond
	ctx := t.Context()
	get := func() {
		t.Helper()
		if err := b.do(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET: %v", err)
		}
	}
	get()
	time.Sleep(50 * time.Millisecond)
	if !b.running.Load() {
		t.Fatal("the sending goroutine exited as soon as the queue was empty")
	}
	get() // taken by the same goroutine
	last := time.Now()
	for b.running.Load() {
		if time.Since(last) > 5*time.Second {
			t.Fatal("the sending goroutine is still there 5s after the last command")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if idle := time.Since(last); idle < 400*time.Millisecond {
		t.Errorf("the sending goroutine exited %v after the last command; want about 500ms", idle)
	}
	get() // an exited batcher starts again
}

// A caller that gives up stops waiting at its deadline, even while the
// batch ahead of it is stuck.
func TestBatcherWaitEndsAtTheDeadline(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(srv.Client(t), newDeadlines(2*time.Second))
	srv.Pause(t)
	defer srv.Resume(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.do(ctx, redis.NewStringCmd(ctx, "get", "k"))
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("a GET on a paused Redis returned %v after %v; want the caller's deadline, 100ms", err, took)
	}
}

// A call whose caller gave up is not reused: its batch signals it once
// Redis answers, which would wake the next caller to take it before that
// caller's own command had run, with an empty result.
func TestBatcherDoesNotReuseAnAbandonedCall(t *testing.T) {
	srv := redistest.Start(t)
	b := newBatcher(srv.Client(t), newDeadlines(5*time.Second))
	ctx := t.Context()
	if err := b.do(ctx, redis.NewStatusCmd(ctx, "set", "k", "v")); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one P: a pooled call comes back to the next caller
	srv.Pause(t)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.do(short, redis.NewStringCmd(short, "get", "k")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET on a paused Redis: %v; want the caller's deadline", err)
	}
	get := redis.NewStringCmd(ctx, "get", "k")
	done := make(chan error, 1)
	go func() { done <- b.do(ctx, get) }()
	time.Sleep(50 * time.Millisecond) // queued behind the abandoned GET's batch
	srv.Resume(t)
	if err := <-done; err != nil || get.Val() != "v" {
		t.Errorf("GET after an abandoned GET: %q, %v; want \"v\"", get.Val(), err)
	}
}

// countPipelines counts the pipelines a client sends.
type countPipelines struct{ n atomic.Int64 }

func (h *countPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// The commands of goroutines that are ready to run together go as one
// batch, even on one CPU, where the goroutine that queues the first
// command hands the CPU straight to the sender.
func TestBatcherTakesWhatReadyGoroutinesQueue(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	var count countPipelines
	client.AddHook(&count)
	b := newBatcher(client, newDeadlines(5*time.Second))
	ctx := t.Context()
	if err := b.do(ctx, redis.NewStatusCmd(ctx, "set", "k", "v")); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const rounds, n = 20, 16
	batches := 0
	for range rounds {
		count.n.Store(0)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				if err := b.do(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("GET: %v", err)
		}
		batches += int(count.n.Load())
	}
	// Most rounds take one batch; now and then the scheduler's fairness
	// check runs the sender early, and a round takes two. Without the
	// yield every round takes two or more.
	if batches >= 2*rounds {
		t.Errorf("%d rounds of %d commands from goroutines ready together went in %d batches; want most rounds in one", rounds, n, batches)
	}
}
