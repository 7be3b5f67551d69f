#!/usr/bin/env bash
# Where a proxy's time goes in the kernel, which pprof does not see: runs
# one proxy (the bare one, or sessionproxy in one mode) pinned to CPU 0
# under wrk's read load, records CPU 0 with perf, and prints the share of
# the proxy's samples that each kind of socket write takes, and how much
# of that is waking the reader on the other core. Loopback only; bounded
# by the seconds given; stops what it starts. Not a test.
#
#   test/bench/perf.sh [bare|secure|redis] [seconds]   # default: redis 5
#
# Needs perf (Debian: linux-perf), wrk, taskset, 2+ CPUs, and for redis
# redis-server. See docs/performance.md, "Where a Redis read's extra time
# goes".
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-redis}
secs=${2:-5}
case $mode in bare | secure | redis) ;; *) echo "perf.sh: mode must be bare, secure or redis, not $mode" >&2; exit 2 ;; esac
need=(perf wrk taskset curl python3)
[ "$mode" = redis ] && need+=(redis-server)
for c in "${need[@]}"; do
	command -v "$c" >/dev/null || { echo "perf.sh: needs $c" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "perf.sh: needs 2 CPUs (the proxy on CPU 0, the load on CPU 1)" >&2; exit 1; }

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
waitfor() { # url: until it answers, 10 s at most
	for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done
	echo "perf.sh: $1 did not answer" >&2
	exit 1
}

go build -o "$dir/sessionproxy" ./cmd/sessionproxy
go build -o "$dir/bare" ./test/bench/bare
go build -o "$dir/upstream" ./test/bench/upstream
up=$(port)
taskset -c 1 "$dir/upstream" -listen "127.0.0.1:$up" >/dev/null 2>&1 &
pids+=($!)
waitfor "http://127.0.0.1:$up/"

listen=$(port)
if [ "$mode" = bare ]; then
	proc=bare
	taskset -c 0 "$dir/bare" -listen "127.0.0.1:$listen" -upstream "http://127.0.0.1:$up" >/dev/null 2>&1 &
	pids+=($!)
else
	proc=sessionproxy
	cat >"$dir/config.yaml" <<-EOF
		listen: "127.0.0.1:$listen"
		upstream: "http://127.0.0.1:$up"
		keys: ["perf-key-0123456789abcdef0123456789abcdef"]
		token:
		  secret: "perf-upstream-secret-0123456789abcdef"
	EOF
	if [ "$mode" = redis ]; then
		rp=$(port)
		taskset -c 1 redis-server --bind 127.0.0.1 --port "$rp" --save '' --appendonly no >/dev/null &
		pids+=($!)
		printf 'store:\n  type: redis\n  redis:\n    addrs: ["127.0.0.1:%s"]\n' "$rp" >>"$dir/config.yaml"
	fi
	taskset -c 0 "$dir/sessionproxy" -config "$dir/config.yaml" >"$dir/proxy.log" 2>&1 &
	pids+=($!)
fi
waitfor "http://127.0.0.1:$listen/"

# One session, read on every request (the benchmark's read scenario). The
# bare proxy sets no cookie and forwards whatever comes; sessionproxy must
# set one (it answers 503 until Redis does).
cookie="koa.sess=none"
if [ "$mode" != bare ]; then
	cookie=""
	for _ in $(seq 100); do
		cookie=$(curl -s -o /dev/null -D - "http://127.0.0.1:$listen/write" |
			sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | tr -d '\r' | paste -sd';' -)
		[ -n "$cookie" ] && break
		sleep 0.1
	done
	[ -n "$cookie" ] || { echo "perf.sh: sessionproxy set no session cookie on /write:" >&2; tail -5 "$dir/proxy.log" >&2; exit 1; }
fi

taskset -c 1 wrk -t2 -c16 -d"$((secs + 2))s" -H "Cookie: $cookie" "http://127.0.0.1:$listen/" >"$dir/wrk.txt" &
wrk=$!
pids+=($wrk)
sleep 1
perf record -q -C 0 -g -o "$dir/perf.data" -- sleep "$secs" >/dev/null 2>&1
wait "$wrk"
grep -E 'Requests/sec' "$dir/wrk.txt" | sed "s/^/$mode under perf: /"

# Each sample is a header line (the thread's command), then its stack,
# leaf first, a frame per line starting with a tab. A write is classified
# by the Go function that made it.
perf script -i "$dir/perf.data" -F comm,ip,sym 2>/dev/null | awk -v proc="$proc" '
	function flush() {
		if (comm == proc) {
			total++
			kind = ""
			if (stack ~ /checkConnErrorWriter/) kind = "the response to the client"
			else if (stack ~ /persistConnWriter/) kind = "the request to the upstream"
			else if (stack ~ /go-redis[^ ]*WithWriter/) kind = "the Redis batch"
			if (kind != "") {
				w[kind]++
				if (stack ~ / sock_def_readable /) wake[kind]++
			}
			if (stack ~ / sock_def_readable /) allwake++
		}
		comm = ""; stack = " "
	}
	/^\t/ { sub(/^\t *[0-9a-f]+ /, ""); stack = stack $0 " "; next }
	/^[ \t]*$/ { next }
	{ flush(); comm = $1 }
	END {
		flush()
		if (total == 0) { print "perf.sh: no samples of " proc; exit 1 }
		printf "%d samples of %s on CPU 0\n\n", total, proc
		printf "| write | share of the proxy core | of which waking the reader |\n|---|---:|---:|\n"
		n = split("the response to the client|the request to the upstream|the Redis batch", k, "|")
		for (i = 1; i <= n; i++)
			if (w[k[i]] > 0) printf "| %s | %.1f %% | %.1f %% |\n", k[i], 100 * w[k[i]] / total, 100 * wake[k[i]] / total
		printf "| every wakeup of another process, whatever the caller | | %.1f %% |\n", 100 * allwake / total
	}'
