#!/bin/sh
# Builds the sessionproxy binary exactly as the Docker image does (the
# Dockerfile runs this script), then checks it is static, so the image can
# be FROM distroless/static with no libc. The black-box tests run it too,
# because there is no Docker engine where they run.
#
#   VERSION=1.2.3 docker/build.sh OUT      # default OUT: ./sessionproxy
set -eu
cd "$(dirname "$0")/.."
out="${1:-sessionproxy}"
version="${VERSION:-dev}"

CGO_ENABLED=0 go build -buildvcs=false -trimpath \
	-ldflags "-s -w -X main.version=${version}" \
	-o "$out" ./cmd/sessionproxy

# Static: built without cgo, and (where the tools exist) no dynamic loader.
if ! go version -m "$out" | grep -q 'CGO_ENABLED=0'; then
	echo "build.sh: $out was built with cgo" >&2
	exit 1
fi
if command -v file >/dev/null 2>&1; then
	case "$(file -b "$out")" in
	*"statically linked"*) ;;
	*) echo "build.sh: $out is not statically linked: $(file -b "$out")" >&2; exit 1 ;;
	esac
fi
if command -v ldd >/dev/null 2>&1 && ldd "$out" >/dev/null 2>&1; then
	echo "build.sh: ldd finds shared libraries in $out" >&2
	exit 1
fi
echo "build.sh: $out: sessionproxy $version, static"
