package redisstore_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
	"github.com/sessionproxy/sessionproxy/session/redisstore"
)

// BenchmarkLoad reads one session from 16 goroutines at once on one CPU,
// as the proxy does under load, and reports the process's CPU time per
// Load (cpu-ns/op): what a read costs the proxy, whatever else the
// machine is doing.
//
//	go test ./session/redisstore -run '^$' -bench Load -benchmem
func BenchmarkLoad(b *testing.B) {
	srv := redistest.Start(b)
	for _, pipeline := range []bool{false, true} {
		b.Run(fmt.Sprintf("pipeline=%v", pipeline), func(b *testing.B) {
			s := newStore(b, srv.Client(b), redisstore.Options{Prefix: "sp:", HashIDs: true, Pipeline: pipeline})
			benchmarkLoad(b, s)
		})
	}
}

func benchmarkLoad(b *testing.B, s *redisstore.Store) {
	ctx := b.Context()
	rec := []byte(`{"user":"john","_expire":1700000000000,"_maxAge":86400000}`)
	if err := s.Save(ctx, "abc", rec, time.Hour); err != nil {
		b.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.SetParallelism(16)
	start := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := s.Load(ctx, "abc"); err != nil || !ok {
				panic(fmt.Sprintf("Load: ok=%v err=%v", ok, err))
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkUpdate writes sessions from 16 goroutines at once on one CPU,
// each its own session so that no write conflicts, and reports the CPU
// time per Update. Each passes the record it wrote last as Update's last,
// as the proxy passes the one it loaded.
//
//	go test ./session/redisstore -run '^$' -bench Update -benchmem
func BenchmarkUpdate(b *testing.B) {
	srv := redistest.Start(b)
	for _, pipeline := range []bool{false, true} {
		b.Run(fmt.Sprintf("pipeline=%v", pipeline), func(b *testing.B) {
			s := newStore(b, srv.Client(b), redisstore.Options{Prefix: "sp:", HashIDs: true, Pipeline: pipeline})
			ctx := b.Context()
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			b.SetParallelism(16)
			var next atomic.Int64
			start := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprint("session-", next.Add(1))
				var last []byte // what the proxy's Load read: nothing at first
				for n := 0; pb.Next(); n++ {
					rec := fmt.Appendf(nil, `{"n":%d,"_expire":1700000000000,"_maxAge":86400000}`, n)
					err := s.Update(ctx, id, last, func([]byte, bool) ([]byte, time.Duration, error) {
						return rec, time.Hour, nil
					})
					if err != nil {
						panic(err)
					}
					last = rec
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
