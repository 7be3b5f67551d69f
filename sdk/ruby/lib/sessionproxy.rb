# frozen_string_literal: true

# The app's side of sessionproxy: the proxy's session in a Rack app's
# env["rack.session"], so that Sinatra's +session+, Rack::Request#session
# and Rails' +session+ work as they do with Rack's own session stores.
#
#   require "sessionproxy"
#   use SessionProxy::Rack, secret: ENV.fetch("UPSTREAM_SECRET")
#
# No dependency beyond Ruby's standard library (json, openssl, net/http).
module SessionProxy
  # The session of a Rack request, raising unless SessionProxy::Rack put
  # one there.
  def self.session(env)
    s = env["rack.session"]
    raise Error, "sessionproxy: no session in this request; is SessionProxy::Rack in front of the app?" unless s.is_a?(Session)

    s
  end

  # Gives the request's session a new id, keeping its data (after a login).
  def self.regenerate(env)
    session(env).regenerate
  end

  # Drops the request's session; keys set afterwards start a new one.
  def self.destroy(env)
    session(env).destroy
  end

  # Ends the other sessions of this session's user ("log out my other devices").
  def self.destroy_others(env)
    session(env).destroy_others
  end

  # Ends this session and the user's other sessions ("log out everywhere").
  def self.destroy_all(env)
    session(env).destroy_all
  end

  # Sets this session's lifetime: milliseconds (1 ms to 100 years) or "session".
  def self.set_max_age(env, value)
    session(env).max_age = value
  end
end

require_relative "sessionproxy/version"
require_relative "sessionproxy/errors"
require_relative "sessionproxy/patch"
require_relative "sessionproxy/token"
require_relative "sessionproxy/session"
require_relative "sessionproxy/rack"
