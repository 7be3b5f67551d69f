// Command neighbour shares a CPU's caches with the proxy under test, as
// the other programs on a real machine do: it walks a buffer larger than
// the caches, one cache line at a time, until it is stopped. The load
// driver's -neighbour runs it on the proxies' CPU at idle priority
// (SCHED_IDLE), so that it runs only while the proxy leaves the CPU idle
// and the proxy finds its caches cold when it wakes; with -neighbour-busy
// at normal priority, so that it takes turns with the proxy.
package main

import "flag"

func main() {
	mb := flag.Int("mb", 32, "size of the buffer it walks, in MiB")
	flag.Parse()
	buf := make([]byte, max(*mb, 1)<<20)
	for {
		for i := 0; i < len(buf); i += 64 {
			buf[i]++
		}
	}
}
