#!/usr/bin/env bash
# Runs sdk/ruby's own tests (minitest, which Debian's ruby ships: the
# shared vectors and directives table, plain Rack through
# Rack::MockRequest, Sinatra, Rails' ActionController and booted Rails
# applications (in child Rubies), JWKS with EdDSA and
# ES256 from a real local server, errors) with the library from this
# checkout on the load path. On a Debian machine without them, installs
# Debian's ruby, ruby-rack, ruby-sinatra, ruby-actionpack (Rails 6.1's
# ActionController), ruby-railties (a whole Rails 6.1 application, as
# examples/rails is) and ruby-webrick (the Sinatra and Rails examples'
# server, which the black-box tests in test/ run). Exits non-zero on any
# failure; no test is ever skipped.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v ruby >/dev/null ||
	! ruby -e 'require "rack"; require "sinatra/base"; require "webrick"; require "action_controller"; require "rails"' >/dev/null 2>&1; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq ruby ruby-rack ruby-sinatra ruby-webrick ruby-actionpack ruby-railties >/dev/null
fi

ruby -w -Ilib -e 'Dir[File.join(__dir__, "test", "test_*.rb")].sort.each { |f| require f }' -- -v "$@"
