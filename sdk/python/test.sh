#!/usr/bin/env bash
# Runs sdk/python's own tests (the standard library's unittest: the shared
# vectors, Flask through its test client, the WSGI middleware, JWKS with
# EdDSA and ES256) with the library from this checkout on the path.
#
# On a fresh Debian machine the interpreter may lack Flask or cryptography:
# then Debian's python3-flask and python3-cryptography are installed and
# Debian's /usr/bin/python3 runs the tests, as test/run.sh does for the
# black-box tests (PYTHON names the interpreter; default python3). Nothing
# is pip-installed into the system. No test is ever skipped.
set -euo pipefail
cd "$(dirname "$0")"

python="${PYTHON:-python3}"
if ! "$python" -c 'import flask, cryptography' >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq python3 python3-flask python3-cryptography >/dev/null
	python=/usr/bin/python3
	"$python" -c 'import flask, cryptography' # fails loudly if still missing
fi

PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$python" -W error::DeprecationWarning:sessionproxy \
	-m unittest discover -s tests -v
