#!/usr/bin/env bash
# Runs the demo: the Flask example upstream (Flask's own session, backed by
# sessionproxy's library in sdk/python) on 127.0.0.1:8080 and sessionproxy
# on 127.0.0.1:3000 in front of it. Ctrl-C stops both.
#
#   curl -c jar -b jar localhost:3000/set    # session set
#   curl -c jar -b jar localhost:3000/get    # {"age":30,"name":"john doe"}
#   curl -c jar -b jar localhost:3000/count  # {"views":1}, then 2, ...
set -euo pipefail
cd "$(dirname "$0")/.."

# Demo secrets only: real deployments pass their own through the environment.
export SESSION_KEY="${SESSION_KEY:-demo-key-0123456789abcdef0123456789abcdef}"
export UPSTREAM_SECRET="${UPSTREAM_SECRET:-demo-secret-0123456789abcdef0123456789}"

bin="$(mktemp -d)/sessionproxy"
go build -o "$bin" ./cmd/sessionproxy

# The example uses sessionproxy's library from this checkout (no install).
PYTHONPATH="$PWD/sdk/python${PYTHONPATH:+:$PYTHONPATH}" "${PYTHON:-python3}" examples/flask/app.py --port 8080 &
upstream=$!
"$bin" -config examples/demo.yaml &
proxy=$!
trap 'kill $proxy $upstream 2>/dev/null; wait $proxy $upstream 2>/dev/null; rm -rf "$(dirname "$bin")"' EXIT INT TERM
echo "sessionproxy on http://127.0.0.1:3000 (admin on 127.0.0.1:9090); Ctrl-C to stop"
wait -n $proxy $upstream
