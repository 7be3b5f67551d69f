#!/usr/bin/env bash
# Runs the Go library's own tests: gofmt, go vet, and go test with the
# race detector. Needs Go (the repository's own toolchain); installs a C
# compiler for -race when missing. Nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v gcc >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq gcc libc6-dev >/dev/null
fi

if unformatted=$(gofmt -l .) && [ -n "$unformatted" ]; then
	echo "gofmt: these files are not formatted:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 ./...
