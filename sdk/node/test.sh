#!/usr/bin/env bash
# Tests the Node library on a fresh Debian machine: installs Node and npm
# when missing, the pinned devDependencies (koa, express, fastify,
# typescript, @types/node for fastify's typings) from the committed lock,
# and the examples' packages (examples/koa, examples/express,
# examples/fastify, which test/sdk_test.go runs behind the proxy); then
# runs every node:test test and type-checks the typings. Exits non-zero on
# any failure; no test is ever skipped.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "sdk/node needs Node 20 or newer (global fetch, node:test); found $(node --version)" >&2
	exit 1
fi

# npm ci again only when a lock is newer than the installed tree.
npm_ci() {
	if [ ! -f "$1/node_modules/.package-lock.json" ] ||
		[ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
		(cd "$1" && npm ci --no-audit --no-fund)
	fi
}
npm_ci .
npm_ci ../../examples/koa
npm_ci ../../examples/express
npm_ci ../../examples/fastify

node --test test/*.test.js
node_modules/.bin/tsc -p test/types/tsconfig.json
# fastify's own typings need Node's: request.session merged into them.
node_modules/.bin/tsc -p test/types/tsconfig.fastify.json
