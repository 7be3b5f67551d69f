#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, then
# runs the Go unit and black-box tests (which start and stop their own
# upstreams and servers).
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 ./...
