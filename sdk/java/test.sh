#!/usr/bin/env bash
# Runs sdk/java's own tests (JUnit 5 through Maven: the shared vectors in
# sdk/testdata, SessionProxyFilter in embedded Jetty over real HTTP on
# 127.0.0.1, JWKS with EdDSA and ES256 keys from a local server), installs
# the library into the local Maven repository (~/.m2), runs it in a Spring
# Boot app with Spring Security (spring-test), and builds the
# example upstream examples/java-servlet with its runtime jars in
# target/lib, which the black-box tests in test/ run behind the proxy.
#
# Needs a JDK 17 or later and Maven; every dependency and plugin version is
# pinned in the POMs. The first run downloads them into ~/.m2.
set -euo pipefail
cd "$(dirname "$0")"

# mvnq runs Maven in batch mode, quiet. Maven 3.8 still writes colour
# resets with -B, which ran into the next line of the log: they are cut.
mvnq() {
	mvn -B -q "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
}

# summary DIR prints the JUnit counts of a Maven project's tests, and the
# tail of their logs when one failed.
summary() {
	cat "$1"/target/surefire-reports/*.txt 2>/dev/null | grep -h '^Tests run' || true
	if grep -qs '<<< FAILURE\|<<< ERROR' "$1"/target/surefire-reports/*.txt; then
		tail -n 50 "$1"/target/surefire-reports/*-output.txt 2>/dev/null || true
	fi
}

mvnq install || { summary .; exit 1; }
summary .

# The library in a Spring Boot 4 app with Spring Security's form login.
(cd spring-test && mvnq test) || { summary spring-test; exit 1; }
summary spring-test

cd ../../examples/java-servlet
mvnq package dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib
