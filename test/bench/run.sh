#!/usr/bin/env bash
# Load benchmark: sessionproxy in each mode against a bare
# httputil.ReverseProxy, driven by wrk on 127.0.0.1. Not a test; timing is
# never asserted.
#
#   test/bench/run.sh [duration-per-run] [driver flags]
#   test/bench/run.sh            # 2s runs, 5 interleaved rounds, ~6 min
#   test/bench/run.sh 5s -rounds 5 -modes secure,redis
#
# Flags: -rounds N, -c CONNS, -t THREADS, -pin=false, -modes LIST,
# -scenarios LIST, -cpu, -gc, -perf, -pprof DIR, -keep DIR, -neighbour MB, -neighbour-busy, -calibrate KIB, -calibrate-token BYTES (see
# test/bench/driver). Prints a Markdown table. -pool FILE,... runs nothing:
# it pools the rounds of earlier runs from their stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
# wrk drives the proxies; redis-server backs the redis mode (without it
# the mode is reported unavailable). Debian's packages, installed once.
# -pool only reads earlier runs' output, and needs neither.
missing=()
pooling=""
for a in "$@"; do case "$a" in -pool | -pool=* | --pool | --pool=*) pooling=1 ;; esac; done
if [ -z "$pooling" ]; then
	command -v wrk >/dev/null || missing+=(wrk)
	command -v redis-server >/dev/null || missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
		{ $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
dir=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
go build -o "$dir/driver" ./test/bench/driver
"$dir/driver" "$@" &
pid=$!
wait "$pid"
status=$?
pid=
exit $status
