#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, then
# runs the Go unit and black-box tests (which start and stop their own
# upstreams and servers).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's redis-server and redis-cli: the Redis store's tests start their
# own servers (standalone and a 3-node cluster) on free loopback ports.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq redis-server redis-tools >/dev/null
fi
go vet ./...
go test -count=1 ./...
