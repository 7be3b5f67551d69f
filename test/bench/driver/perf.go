package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// With -perf, each run also records the proxy's CPU with perf, to see
// what pprof cannot: where the proxy's socket writes spend their time in
// the kernel. On loopback a write delivers the data and wakes the reader
// inside the sender's system call, so it shows how much of each kind of
// write is waking the process on the other core (docs/performance-log.md,
// "A Redis read at load, by system call").

// recording is a perf record of one CPU list, running for a set time.
type recording struct {
	cmd  *exec.Cmd
	file string
}

// startPerf records the CPU list cpu, with call graphs, into file for
// the given seconds. perf itself runs on the CPU list load, off the CPUs
// it records.
func startPerf(ctx context.Context, cpu, load, file string, seconds float64) (*recording, error) {
	cmd := exec.CommandContext(ctx, "taskset", "-c", load, "perf", "record", "-q", "-C", cpu, "-g", "-o", file,
		"--", "sleep", strconv.FormatFloat(seconds, 'f', 3, 64))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	return &recording{cmd: cmd, file: file}, nil
}

// shares waits for the recording to end and returns the write shares of
// the process whose command name is comm, then moves the recording to
// keep, or removes it when keep is "".
func (r *recording) shares(ctx context.Context, comm, keep string) (writeShares, error) {
	defer func() {
		if keep == "" || os.Rename(r.file, keep) != nil {
			os.Remove(r.file)
		}
	}()
	if err := r.cmd.Wait(); err != nil {
		return writeShares{}, fmt.Errorf("perf record: %w", err)
	}
	script := exec.CommandContext(ctx, "perf", "script", "-i", r.file, "-F", "comm,ip,sym")
	out, err := script.StdoutPipe()
	if err != nil {
		return writeShares{}, err
	}
	if err := script.Start(); err != nil {
		return writeShares{}, fmt.Errorf("perf script: %w", err)
	}
	ws, parseErr := parseWriteShares(out, comm)
	_, _ = io.Copy(io.Discard, out)
	if err := script.Wait(); err != nil {
		return writeShares{}, fmt.Errorf("perf script: %w", err)
	}
	return ws, parseErr
}

// Kinds of socket write, by the Go function that made it.
const (
	writeClient   = iota // the response to the client
	writeUpstream        // the request to the upstream
	writeRedis           // a batch of Redis commands
	writeKinds
)

var writeNames = [writeKinds]string{"client", "upstream", "redis"}

// writeShares counts one process's perf samples: all of them, those in
// each kind of write, and those waking another process (in each kind,
// and whatever the caller).
type writeShares struct {
	samples int
	writes  [writeKinds]int
	wakes   [writeKinds]int
	wakeAll int
}

// parseWriteShares reads `perf script -F comm,ip,sym`: for each sample a
// line with the command name, then its stack, leaf first, one frame per
// line that starts with a tab ("\t<address> <symbol>"), then a blank
// line. Samples of other commands are skipped.
func parseWriteShares(r io.Reader, comm string) (writeShares, error) {
	var ws writeShares
	var cur string // the current sample's command
	kind, wake := -1, false
	end := func() {
		if cur == comm {
			ws.samples++
			if wake {
				ws.wakeAll++
			}
			if kind >= 0 {
				ws.writes[kind]++
				if wake {
					ws.wakes[kind]++
				}
			}
		}
		cur, kind, wake = "", -1, false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "\t"):
			if cur != comm {
				continue
			}
			_, sym, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch {
			case sym == "sock_def_readable":
				wake = true
			case kind >= 0: // the innermost writer names the kind
			case strings.HasPrefix(sym, "net/http.checkConnErrorWriter.Write"):
				kind = writeClient
			case strings.HasPrefix(sym, "net/http.persistConnWriter.Write"):
				kind = writeUpstream
			case strings.Contains(sym, "go-redis") && strings.HasSuffix(sym, ".WithWriter"):
				kind = writeRedis
			}
		case strings.TrimSpace(line) == "":
			end()
		default:
			end()
			cur = strings.Fields(line)[0]
		}
	}
	end()
	return ws, sc.Err()
}

// String reports the shares as percentages of the process's samples.
func (ws writeShares) String() string {
	if ws.samples == 0 {
		return "no samples"
	}
	pct := func(n int) float64 { return 100 * float64(n) / float64(ws.samples) }
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples; writes:", ws.samples)
	for k := range writeKinds {
		if ws.writes[k] > 0 {
			fmt.Fprintf(&b, " %s %.1f%% (waking %.1f%%)", writeNames[k], pct(ws.writes[k]), pct(ws.wakes[k]))
		}
	}
	fmt.Fprintf(&b, "; every wakeup %.1f%%", pct(ws.wakeAll))
	return b.String()
}
