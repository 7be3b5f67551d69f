#!/usr/bin/env bash
# Runs sdk/java's own tests (JUnit 5 through Maven: the shared vectors in
# sdk/testdata, SessionProxyFilter in embedded Jetty over real HTTP on
# 127.0.0.1, JWKS with EdDSA and ES256 keys from a local server), installs
# the library into the local Maven repository (~/.m2), and builds the
# example upstream examples/java-servlet with its runtime jars in
# target/lib, which the black-box tests in test/ run behind the proxy.
#
# Needs a JDK 17 or later and Maven; every dependency and plugin version is
# pinned in the POMs. The first run downloads them into ~/.m2.
set -euo pipefail
cd "$(dirname "$0")"

mvn -B -q install
cat target/surefire-reports/*.txt | grep -h '^Tests run' || true

cd ../../examples/java-servlet
mvn -B -q package dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib
