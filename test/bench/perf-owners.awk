# perf-owners.awk splits a proxy's perf samples by whose work they are,
# as docs/performance.md's "At load, whose work the gap is" table does.
#
#   perf script -i DIR/R-SCENARIO-MODE.data --comm PROC |
#       awk -v us=CPU_US_PER_REQ -f test/bench/perf-owners.awk
#
# PROC is bare or sessionproxy; us is the round's CPU µs/req for that
# proxy (the driver prints it). A sample belongs to sessionproxy when a
# frame of its own packages is the nearest caller of the leaf that is not
# the runtime's, to net/http when a frame of net/http, bufio, net or the
# poller is, and to the runtime (its scheduler and collector) otherwise.
# Kernel samples are split into waking the peer after a write
# (sock_def_readable), page faults, and the rest. It prints µs per
# request for each.
BEGIN { RS = "" }
{
	n = split($0, line, "\n")
	owner = "the scheduler, the collector's workers, unattributed"
	for (i = 2; i <= n; i++) {
		split(line[i], f, " ")
		if (f[2] ~ /sessionproxy\/(session|proxy|metrics)|^main\./) { owner = "sessionproxy's functions and what they call"; break }
		if (f[2] ~ /^(net\/http|net\/textproto|bufio|net\.|internal\/poll|syscall|context)/) { owner = "net/http's and ReverseProxy's own work"; break }
		if (f[2] ~ /^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|gcAssistAlloc|schedule|findRunnable|mcall|park_m|goexit0|sysmon)/) break
	}
	where = "user: " owner
	if ($0 ~ /asm_exc_page_fault/) where = "page faults"
	else if (line[2] ~ /kernel\.kallsyms/ && $0 ~ /sock_def_readable/) where = "kernel: waking the peer after a write"
	else if (line[2] ~ /kernel\.kallsyms/) where = "kernel: the rest of the sockets and syscalls"
	count[where]++
	total++
}
END {
	for (w in count) printf "%6.1f  %s\n", count[w] / total * us, w
}
