#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, runs
# the app-side libraries' own tests (sdk/*/test.sh), checks gofmt, then
# runs the Go unit and black-box tests with the race detector (they start
# and stop their own upstreams and servers on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install installs Debian packages (once: the package lists are
# fetched on the first call).
apt_updated=""
apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	[ -n "$apt_updated" ] || { $sudo apt-get update -qq >/dev/null; apt_updated=1; }
	$sudo apt-get install -y -qq "$@" >/dev/null
}

# Debian's redis-server and redis-cli: the Redis store's tests start their
# own servers (standalone and a 3-node cluster).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	apt_install redis-server redis-tools
fi
# Debian's wrk: the load benchmark's driver runs its mix scripts in it.
if ! command -v wrk >/dev/null; then
	apt_install wrk
fi
# Python 3 runs the example and test upstreams, from the virtual
# environment sdk/python/test.sh makes (below) with its pinned Flask,
# Django and the rest.
if ! command -v python3 >/dev/null; then
	apt_install python3 python3-venv
fi
# A C compiler: go test -race needs cgo.
if ! command -v gcc >/dev/null; then
	apt_install gcc libc6-dev
fi
# Node and npm run the real koa + koa-session (+ koa-redis) the koa-format
# tests use; npm ci again when the lock is newer than the installed tree
# (its .package-lock.json), so a checkout that gained a package gets it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm
fi
if [ ! -f test/koa/node_modules/.package-lock.json ] ||
	[ test/koa/package-lock.json -nt test/koa/node_modules/.package-lock.json ]; then
	(cd test/koa && npm ci --no-audit --no-fund)
fi

# A JDK runs the Java example (examples/java), the proof that a language
# without a library needs only its standard library; with Maven it builds
# and tests sdk/java and its example upstream, examples/java-servlet
# (the first run downloads their pinned dependencies into ~/.m2).
if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
	apt_install default-jdk-headless
fi
if ! command -v mvn >/dev/null; then
	apt_install maven
fi

# Debian's PHP CLI runs the PHP example (examples/php) with its built-in
# server, php -S. Like the packages above, its version is the Debian
# release's (8.2 on bookworm): a pin of the exact version would fail on
# another release.
if ! command -v php >/dev/null; then
	apt_install php-cli
fi

# Debian's Ruby, Rack, Sinatra, Rails (actionpack, and railties for a
# whole application) and WEBrick run sdk/ruby's tests and the Sinatra and
# Rails examples (examples/sinatra, examples/rails) the black-box tests
# put behind the proxy. As for PHP, the versions are the Debian release's
# (on bookworm Ruby 3.1, Rack 2.2, Sinatra 3.0, Rails 6.1, WEBrick 1.8),
# not pinned.
if ! command -v ruby >/dev/null ||
	! ruby -e 'require "rack"; require "sinatra/base"; require "webrick"; require "action_controller"; require "rails"' >/dev/null 2>&1; then
	apt_install ruby ruby-rack ruby-sinatra ruby-webrick ruby-actionpack ruby-railties
fi

# The app-side libraries' own tests. Each script installs what it needs
# (the Node one also the examples' pinned packages, which the black-box
# tests below run behind the proxy).
sdk/python/test.sh
export PYTHON="$PWD/sdk/python/.venv/bin/python" # read by the test harness
sdk/node/test.sh
sdk/go/test.sh
sdk/ruby/test.sh
sdk/java/test.sh

if unformatted=$(gofmt -l cmd config examples internal metrics proxy session test) && [ -n "$unformatted" ]; then
	echo "gofmt: these files are not formatted:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 ./...
# The tests of what a normal build does that the race detector's own
# instrumentation changes (a request's stack depth), built without it.
go test -count=1 -run '^TestRequestsFitTheFirstStack$' ./proxy

# Every fuzz target (go test above ran only their seed corpora) fuzzes for
# FUZZTIME each: a count of inputs (default 30000x), not a duration,
# because Go 1.26's fuzzer can fail a duration-bounded run with a bare
# "context deadline exceeded" when the deadline catches a busy worker
# (golang/go#75804, fixed in Go 1.27). A failing input is written to the
# package's testdata/fuzz/ and fails the run; -timeout bounds a slow one.
fuzztime="${FUZZTIME:-30000x}"
fuzz_module() { # $1: a module's root; then directories to leave out
	local root=$1
	shift
	local exclude=(--exclude-dir=node_modules)
	for d in "$@"; do exclude+=("--exclude-dir=$d"); done
	(
		cd "$root"
		grep -rl "${exclude[@]}" --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u |
			while read -r dir; do
				for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
					echo "fuzz: $root/${dir#./} $name ($fuzztime)"
					if ! out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -timeout 5m "$dir" 2>&1); then
						echo "$out" >&2
						exit 1
					fi
				done
			done
	)
}
fuzz_module . sdk
fuzz_module sdk/go
