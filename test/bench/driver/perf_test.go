package main

import (
	"strings"
	"testing"
)

// perf script's samples are sorted by the writer innermost in each stack,
// and a wakeup counts for its write and in the total; other commands'
// samples do not count at all.
func TestParseWriteShares(t *testing.T) {
	const script = `sessionproxy 
	ffffffff8225fd19 pvm_irq_enable
	ffffffff81b0a0f1 sock_def_readable
	ffffffff81c1aa10 tcp_sendmsg
	          4a1b2c internal/poll.(*FD).Write
	          4f0e11 net/http.checkConnErrorWriter.Write
	          4f0a00 bufio.(*Writer).Flush

sessionproxy 
	ffffffff81c1aa10 tcp_sendmsg
	          4f2222 net/http.persistConnWriter.Write
	          4f2000 net/http.(*persistConn).writeLoop

    sessionproxy 
	ffffffff81b0a0f1 sock_def_readable
	          5a0001 github.com/redis/go-redis/v9/internal/pool.(*Conn).WithWriter
	          5a0002 github.com/redis/go-redis/v9.(*baseClient).pipelineProcessCmds

sessionproxy 
	          600000 runtime.mallocgc

bare 
	ffffffff81b0a0f1 sock_def_readable
	          4f0e11 net/http.checkConnErrorWriter.Write

sessionproxy 
	ffffffff81b0a0f1 sock_def_readable
	          7a0000 runtime.netpoll
`
	ws, err := parseWriteShares(strings.NewReader(script), "sessionproxy")
	if err != nil {
		t.Fatal(err)
	}
	want := writeShares{
		samples: 5,
		writes:  [writeKinds]int{writeClient: 1, writeUpstream: 1, writeRedis: 1},
		wakes:   [writeKinds]int{writeClient: 1, writeRedis: 1},
		wakeAll: 3,
	}
	if ws != want {
		t.Errorf("shares = %+v, want %+v", ws, want)
	}
	if got, want := ws.String(), "5 samples; writes: client 20.0% (waking 20.0%) upstream 20.0% (waking 0.0%) redis 20.0% (waking 20.0%); every wakeup 60.0%"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if ws, err := parseWriteShares(strings.NewReader(script), "nginx"); err != nil || ws.String() != "no samples" {
		t.Errorf("another command: %v, %v", ws, err)
	}
}
