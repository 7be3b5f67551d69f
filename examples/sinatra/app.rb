# frozen_string_literal: true

# koa-session's "full application example" in Sinatra, behind sessionproxy.
#
# The app uses Sinatra's own +session+; sessionproxy's library (sdk/ruby)
# backs it with the proxy's session, so the app never touches a cookie or
# a token:
#
#   RUBYLIB=sdk/ruby/lib UPSTREAM_SECRET=... ruby examples/sinatra/app.rb --port 8080
#
# /set, /get, /destroy and /renew are koa-session's example; /login renews
# after a login; /count, /cart/add and /put change one key each (/put?ms=
# waits first, so that two requests of one session can overlap); /whoami
# shows what the proxy sent; /flash?msg= keeps a message in
# session[:_flash] (a "_" key, which the library stores as "ruby:_flash")
# until /messages shows it. /signin?id= logs user ID in
# (session[:user][:id]), /logout-others ends that user's other sessions
# and /logout-all all of them: these two need the proxy's session.userKey
# set to user.id.
#
# It runs under WEBrick (Debian's ruby-webrick), one thread a request; any
# Rack server (Puma, Falcon) runs it the same: `rackup` with
# `run SessionApp`. It needs Sinatra 3 and WEBrick: Debian's ruby-sinatra
# and ruby-webrick, or `gem install sinatra -v '~> 3.0'` and `gem install webrick`.
require "json"
require "optparse"
require "rack"
require "sinatra/base"
require "sessionproxy"

class SessionApp < Sinatra::Base
  set :environment, :production
  # UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
  # UPSTREAM_OLD_SECRET: the token.secret before a rotation, accepted too
  # until token.ttl after the proxy switched (docs/rotate-keys.md).
  old_secret = ENV.fetch("UPSTREAM_OLD_SECRET", "")
  # Sinatra's Rack::Protection would go before (outside) the session, where
  # it cannot drop the session of a cross-site request it stops: it goes
  # after it (sdk/ruby/README.md).
  set :protection, false
  use SessionProxy::Rack, secret: ENV["UPSTREAM_SECRET"], old_secrets: old_secret.empty? ? nil : [old_secret],
                          header: ENV.fetch("UPSTREAM_HEADER", "").then { |h| h.empty? ? "X-Session" : h }
  use Rack::Protection, reaction: :drop_session, without_session: true

  helpers do
    def json(value)
      content_type :json
      JSON.generate(value)
    end
  end

  get "/set" do
    session[:user] = { name: "john doe", age: 30 }
    "session set"
  end

  get "/get" do
    user = session[:user]
    halt 204 if user.nil? # no session: empty, as koa answers an unset body
    json user
  end

  get "/destroy" do
    session.clear # Sinatra's logout: a session left empty is destroyed
    "session destroyed"
  end

  get "/renew" do
    SessionProxy.regenerate(env)
    "session renewed"
  end

  get "/login" do
    session[:user] = { name: params["name"], age: 30 }
    SessionProxy.regenerate(env) # a new id after a login, against session fixation
    "logged in"
  end

  get "/signin" do
    session[:user] = { id: params["id"] }
    SessionProxy.regenerate(env)
    "signed in"
  end

  get "/logout-others" do
    SessionProxy.destroy_others(env) # "log out my other devices": this session stays
    "other devices logged out"
  end

  get "/logout-all" do
    SessionProxy.destroy_all(env) # "log out everywhere", this device too
    "logged out everywhere"
  end

  get "/count" do
    session[:views] = session.fetch(:views, 0) + 1
    json views: session[:views]
  end

  get "/cart/add" do
    (session[:cart] ||= []) << params["item"] # a nested change is sent too
    json cart: session[:cart]
  end

  get "/put" do
    sleep params.fetch("ms", "0").to_i / 1000.0
    session[params["key"]] = params["value"]
    "session changed"
  end

  get "/flash" do
    session[:_flash] = params["msg"] # kept until shown
    "flashed"
  end

  get "/messages" do
    json messages: [session.delete(:_flash)].compact
  end

  get "/whoami" do
    json sid: session.id, new: session.new?, session: session.to_hash
  end
end

# Serves on --host (default 127.0.0.1; 0.0.0.0 in a container); with
# --port 0 a free port is picked and printed.
def serve(app)
  require "webrick"

  opts = { host: "127.0.0.1", port: 8080 }
  OptionParser.new do |o|
    o.on("--host HOST") { |v| opts[:host] = v }
    o.on("--port PORT", Integer) { |v| opts[:port] = v }
  end.parse!
  server = WEBrick::HTTPServer.new(BindAddress: opts[:host], Port: opts[:port], AccessLog: [],
                                   Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN))
  server.mount "/", Rack::Handler::WEBrick, app
  %w[INT TERM].each { |sig| trap(sig) { server.shutdown } }
  puts "listening on #{opts[:host]}:#{server.config[:Port]}"
  $stdout.flush
  server.start
end

# SessionApp.new builds the middleware now, so that a missing
# UPSTREAM_SECRET stops the start instead of failing every request.
serve(SessionApp.new) if $PROGRAM_NAME == __FILE__
