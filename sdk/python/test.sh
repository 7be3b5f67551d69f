#!/usr/bin/env bash
# Runs sdk/python's own tests (the standard library's unittest: the shared
# vectors, Flask, Django and Starlette/FastAPI through their test clients,
# the WSGI and ASGI middlewares, JWKS with EdDSA and ES256) with the
# library from this checkout on the path.
#
# The tests run in a virtual environment of their own, sdk/python/.venv,
# holding exactly the versions requirements-test.txt pins (made again when
# that file is newer than the environment). The black-box tests in test/
# run their Python upstreams with the same interpreter (test/run.sh points
# PYTHON at it). Nothing is pip-installed into the system; on a Debian
# machine whose python3 cannot make a virtual environment, Debian's
# python3-venv is installed. PYTHON_BASE names the interpreter the
# environment is made from (default python3). No test is ever skipped.
set -euo pipefail
cd "$(dirname "$0")"

base="${PYTHON_BASE:-python3}"
venv="$PWD/.venv"
stamp="$venv/.requirements-test.txt"
if [ ! -f "$stamp" ] || ! cmp -s requirements-test.txt "$stamp"; then
	if ! "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get update -qq >/dev/null
		$sudo apt-get install -y -qq python3 python3-venv >/dev/null
		base=/usr/bin/python3
	fi
	rm -rf "$venv"
	"$base" -m venv "$venv"
	"$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-test.txt
	cp requirements-test.txt "$stamp"
fi
python="$venv/bin/python"
"$python" -c 'import flask, cryptography, django, starlette, fastapi, uvicorn, httpx' # fails loudly if the environment is broken

PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$python" -W error::DeprecationWarning:sessionproxy \
	-m unittest discover -s tests -v
