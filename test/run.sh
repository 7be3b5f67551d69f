#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, then
# runs the Go unit and black-box tests (which start and stop their own
# upstreams and servers).
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install installs Debian packages when a command is missing.
apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update
	$sudo apt-get install -y "$@"
}

# Node and npm run the real koa + koa-session the koa-format tests use.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm
fi
if [ ! -d test/koa/node_modules ]; then
	(cd test/koa && npm ci --no-audit --no-fund)
fi

go vet ./...
go test -count=1 ./...
