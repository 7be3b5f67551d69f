package redisstore

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch is the most commands a batch sends at once.
const maxBatch = 128

// idleExit is how long the sending goroutine waits for more commands
// before it exits. Starting it again costs more than the wait: a new
// goroutine grows its stack again through go-redis's call chain.
const idleExit = time.Second

// batcher sends the commands of concurrent operations to Redis together,
// as one go-redis pipeline: the commands queued while a batch is out, or
// by the goroutines that were ready to run when it was taken, go as the
// next batch, so under load one write and one read serve many requests,
// and a lone command still goes at once. One goroutine sends
// the batches, one after another, so commands reach Redis in the order
// they were queued (on a Cluster, each node in that order); it exits
// once the queue has stayed empty for idleExit, and the next command
// starts another, so an idle store holds no goroutine and needs no Close.
//
// go-redis's own automatic pipeliner does the same, but it starts a
// goroutine per batch and keeps more books per command, which costs more
// CPU per read (docs/performance.md has the measurement).
type batcher struct {
	client    redis.UniversalClient
	deadlines *deadlines // bound each batch, as they bound operations
	queue     chan *call
	running   atomic.Bool   // a goroutine is sending batches
	idle      time.Duration // idleExit; shorter in tests
	calls     sync.Pool     // of *call, reused: two allocations less per command
}

// call is one queued command. Its batch sends on done, once, when the
// command has its result; done has room for that send, so the sender
// never waits for a caller that has given up.
type call struct {
	cmd  redis.Cmder
	done chan struct{}
}

func newBatcher(client redis.UniversalClient, d *deadlines) *batcher {
	b := &batcher{client: client, deadlines: d, queue: make(chan *call, 4*maxBatch), idle: idleExit}
	b.calls.New = func() any { return &call{done: make(chan struct{}, 1)} }
	return b
}

// do queues cmd and waits until it has run or ctx is done. A wait
// abandoned at the deadline leaves the command to its batch.
func (b *batcher) do(ctx context.Context, cmd redis.Cmder) error {
	c := b.calls.Get().(*call)
	c.cmd = cmd
	select {
	case b.queue <- c:
	case <-ctx.Done():
		b.release(c)
		return ctx.Err()
	}
	if b.running.CompareAndSwap(false, true) {
		go b.run()
	}
	select {
	case <-c.done:
		b.release(c)
		return cmd.Err()
	case <-ctx.Done():
		// Not reused: its batch will still signal done, which would wake
		// whoever took it next before that one's command had run.
		return ctx.Err()
	}
}

// release returns c, which no batch holds, for reuse.
func (b *batcher) release(c *call) {
	c.cmd = nil
	b.calls.Put(c)
}

// run sends batches until the queue has stayed empty for b.idle.
func (b *batcher) run() {
	batch := make([]*call, 0, maxBatch)
	idle := time.NewTimer(b.idle)
	defer idle.Stop()
	for {
		select {
		case c := <-b.queue:
			// Let the goroutines that are ready to run go first: under
			// load some of them are about to queue a command, which then
			// shares this batch's write and read instead of paying for
			// its own. When nothing else is ready, this returns at once.
			runtime.Gosched()
			batch = b.take(append(batch[:0], c))
		case <-idle.C:
			b.running.Store(false)
			// A command queued after the timer fired and before the Store
			// found the flag still set and started nobody: take it over,
			// unless a new goroutine already did.
			if len(b.queue) == 0 || !b.running.CompareAndSwap(false, true) {
				return
			}
			idle.Reset(b.idle)
			continue
		}
		b.send(batch)
		for i, c := range batch {
			batch[i] = nil
			c.done <- struct{}{}
		}
		idle.Reset(b.idle)
	}
}

// take appends to batch what is queued, up to maxBatch, without waiting.
func (b *batcher) take(batch []*call) []*call {
	for len(batch) < maxBatch {
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// send runs batch as one pipeline, bounded by the store's timeout. Each
// command keeps its own result or error.
func (b *batcher) send(batch []*call) {
	ctx := b.deadlines.after(time.Now())
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range batch {
			_ = p.Process(ctx, c.cmd)
		}
		return nil
	})
	if err == nil || ranAndFailed(batch, err) {
		return
	}
	// The batch never ran: go-redis gives a refused connection setup (a
	// wrong password, an ACL that forbids CLIENT SETNAME, a db Redis does
	// not have) to the pipeline and not to its commands, which would
	// read as a miss and as writes done.
	for _, c := range batch {
		if c.cmd.Err() == nil {
			c.cmd.SetErr(err)
		}
	}
}

// ranAndFailed reports whether err, Pipelined's, is one of the batch's
// commands' own (their first failure, a miss included).
func ranAndFailed(batch []*call, err error) bool {
	for _, c := range batch {
		if c.cmd.Err() == err {
			return true
		}
	}
	return false
}
