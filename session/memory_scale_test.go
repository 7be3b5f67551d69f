package session

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// scaleUser is a signed-in user's session data of about 200 bytes, as an
// app keeps it; i makes each one different.
func scaleUser(i int) []byte {
	return fmt.Appendf(nil, `{"user":{"id":%d,"name":"Alexandra Example %07d","email":"alexandra.example.%07d@example.com",`+
		`"roles":["member","editor"]},"csrf":"Yv3a9kPqZr8WmX2cT5nB7dLf0hJs4gKe"}`, 1_000_000+i, i, i)
}

// BenchmarkMemoryStoreScale fills a MemoryStore with n sessions of a
// signed-in user, each record as the Manager stores it (the data with
// _expire and _maxAge, about 240 bytes), and reports the heap it grew
// by per session (B/session: the record, the id, the entry and the
// store's index of it, measured after a GC), then times Load of random
// sessions: ns/op should stay about flat as n grows. gc-µs is the time
// of a full garbage collection with the store filled, most of it marking
// what the store holds (the heap is about the store alone). The 1,000,000 case
// holds about half a gigabyte.
//
//	go test ./session -run '^$' -bench MemoryStoreScale -benchtime 200000x
func BenchmarkMemoryStoreScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			ids := newIDList(n) // one string: the collector marks the store, not them
			var records [][]byte
			st := NewMemoryStore(MemoryOptions{MaxEntries: n})
			before := heapInUse()
			for i := range n {
				rec := appendRecord(nil, scaleUser(i), DefaultMaxAge, now, stamps{})
				if i == 0 {
					records = append(records, rec)
				}
				if err := st.Save(ctx, ids.at(i), rec, storeTTL(DefaultMaxAge)); err != nil {
					b.Fatal(err)
				}
			}
			after := heapInUse()
			gc := gcTime()
			if got := st.Len(); got != n {
				b.Fatalf("the store holds %d sessions after %d saves", got, n)
			}

			pick := randomIDs(ids)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := st.Load(ctx, pick()); !ok || err != nil {
					b.Fatalf("Load: %v, %v", ok, err)
				}
			}
			// After the loop: b.Loop's first call resets the metrics.
			b.ReportMetric(float64(after-before)/float64(n), "B/session")
			b.ReportMetric(float64(len(records[0])), "record-B")
			b.ReportMetric(float64(gc.Microseconds()), "gc-µs")
		})
	}
}

// BenchmarkMemoryStoreMassExpiry times the first write after n sessions
// expired at once (a site quiet overnight, a clock stepped forward): what
// every request waiting for the store's lock waits for. It should stay
// flat as n grows, as it does while a write drops at most expiredPerWrite
// expired entries; dropping them all takes 0.2 s at a million.
//
//	go test ./session -run '^$' -bench MemoryStoreMassExpiry -benchtime 5x
func BenchmarkMemoryStoreMassExpiry(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			clock := &clock{time.Unix(1_800_000_000, 0)}
			ids := newIDList(n)
			rec := appendRecord(nil, scaleUser(0), DefaultMaxAge, clock.t, stamps{})
			for b.Loop() {
				b.StopTimer()
				st := NewMemoryStore(MemoryOptions{MaxEntries: n + 1, Now: clock.now})
				for i := range n {
					_ = st.Save(ctx, ids.at(i), rec, time.Minute)
				}
				clock.t = clock.t.Add(2 * time.Minute)
				b.StartTimer()
				if err := st.Save(ctx, "the first write after", rec, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMapScale is BenchmarkMemoryStoreScale's lookup in a plain
// map[string][]byte of the same records, with the same copy out: the
// floor any store in Go memory stands on. Its time grows with n as the
// store's does, because a random lookup in more memory than the CPU's
// caches misses them, whatever the table.
//
//	go test ./session -run '^$' -bench 'MemoryStoreScale|MapScale' -benchtime 200000x
func BenchmarkMapScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			now := time.Now()
			ids := newIDList(n)
			m := make(map[string][]byte, n)
			for i := range n {
				m[ids.at(i)] = appendRecord(nil, scaleUser(i), DefaultMaxAge, now, stamps{})
			}
			pick := randomIDs(ids)
			b.ReportAllocs()
			for b.Loop() {
				r, ok := m[pick()]
				if !ok {
					b.Fatal("an id is missing")
				}
				_ = clone(r)
			}
		})
	}
}

// randomIDs returns a function that picks one of ids at random
// (xorshift: the same sequence on every run, no allocation, no lock).
func randomIDs(ids idList) func() string {
	x := uint64(0x9E3779B97F4A7C15)
	return func() string {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return ids.at(int(x % uint64(ids.n)))
	}
}

// BenchmarkMemoryStoreDrain fills a MemoryStore with n signed-in users'
// sessions, of which one in ten outlives the rest, lets the rest expire,
// and times the writes that follow until the expired ones are all gone
// (each write drops expiredPerWrite of them): ns/op is per write, max-µs
// the slowest write, which the store's lock is held for. MB-before and
// MB-after are the heap in use with the store full and once drained,
// pages-MB-before and pages-MB-after the slab's share of it: the pages
// left sparse by the expiry are emptied into the others and given back.
// The rest of the heap does not shrink: the slots, the index (a Go map
// never shrinks) and the benchmark's own ids.
//
//	go test ./session -run '^$' -bench MemoryStoreDrain -benchtime 1x
func BenchmarkMemoryStoreDrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			clock := &clock{time.Unix(1_800_000_000, 0)}
			ids := newIDList(n + n/10)
			var before, after uint64
			var pagesBefore, pagesAfter int
			var slowest time.Duration
			writes := 0
			for b.Loop() {
				b.StopTimer()
				st := NewMemoryStore(MemoryOptions{MaxEntries: 2 * n, Now: clock.now})
				for i := range n {
					ttl := time.Minute
					if i%10 == 0 {
						ttl = time.Hour
					}
					rec := appendRecord(nil, scaleUser(i), DefaultMaxAge, clock.t, stamps{})
					if err := st.Save(ctx, ids.at(i), rec, ttl); err != nil {
						b.Fatal(err)
					}
				}
				before, pagesBefore = heapInUse(), st.pageBytes()
				clock.t = clock.t.Add(2 * time.Minute)
				rec := appendRecord(nil, scaleUser(0), DefaultMaxAge, clock.t, stamps{})
				b.StartTimer()
				for i := n; len(st.byExp) > n/10+(i-n); i++ { // until only the live are left
					start := time.Now()
					if err := st.Save(ctx, ids.at(i), rec, time.Hour); err != nil {
						b.Fatal(err)
					}
					slowest = max(slowest, time.Since(start))
					writes++
				}
				b.StopTimer()
				after, pagesAfter = heapInUse(), st.pageBytes()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(writes), "ns/op")
			b.ReportMetric(float64(slowest.Microseconds()), "max-µs")
			b.ReportMetric(float64(before)/(1<<20), "MB-before")
			b.ReportMetric(float64(after)/(1<<20), "MB-after")
			b.ReportMetric(float64(pagesBefore)/(1<<20), "pages-MB-before")
			b.ReportMetric(float64(pagesAfter)/(1<<20), "pages-MB-after")
		})
	}
}

// idList is n session ids (NewID's, all of one length) in one string, so
// that the benchmark's own copy of them is one object for the collector.
type idList struct {
	all string
	n   int
}

func newIDList(n int) idList {
	var b strings.Builder
	for range n {
		b.WriteString(NewID())
	}
	return idList{all: b.String(), n: n}
}

func (l idList) at(i int) string {
	k := len(l.all) / l.n
	return l.all[i*k : (i+1)*k]
}

// gcTime returns the shortest of three full garbage collections: what
// marking the store costs the collector on each cycle.
func gcTime() time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		runtime.GC()
		best = min(best, time.Since(start))
	}
	return best
}

// heapInUse returns the bytes of live heap objects after a full GC.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A slot is one cache line, as memSlot's comment says: a lookup touches
// one line of the slots.
func TestMemorySlotIsOneCacheLine(t *testing.T) {
	if n := unsafe.Sizeof(memSlot{}); n != 64 {
		t.Errorf("memSlot is %d bytes, want 64", n)
	}
}
