# frozen_string_literal: true

require_relative "lib/sessionproxy/version"

Gem::Specification.new do |s|
  s.name = "sessionproxy"
  s.version = SessionProxy::VERSION
  s.summary = "The app's side of sessionproxy: its session in env[\"rack.session\"] for Rack, Sinatra and Rails"
  s.description = "Verifies sessionproxy's X-Session token (HS256, or EdDSA/ES256 from a JWKS URL) and gives a " \
                  "Rack app the proxy's session as env[\"rack.session\"], sending its changes back as " \
                  "X-Session-* response headers. No dependency beyond Ruby's standard library."
  s.authors = ["sessionproxy"]
  s.license = "MIT"
  s.files = Dir["lib/**/*.rb"] + ["README.md"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 3.0"
end
