# frozen_string_literal: true

# koa-session's "full application example" as a Rails application, in one
# file, behind sessionproxy.
#
# Its controllers use Rails' own session, flash, reset_session and CSRF
# protection; sessionproxy's library (sdk/ruby) takes the place of Rails'
# session store, as sdk/ruby/README.md's Rails section says, so the app
# never touches a cookie or a token:
#
#   RUBYLIB=sdk/ruby/lib UPSTREAM_SECRET=... ruby examples/rails/app.rb --port 8080
#
# /set, /get, /destroy and /renew are koa-session's example (/destroy is
# reset_session, Rails' logout); /login renews after a login; /count,
# /cart/add and /put change one key each (/put?ms= waits first, so that
# two requests of one session can overlap); /whoami shows what the proxy
# sent; /flash?msg= keeps a message in Rails' flash until /messages shows
# it. /signin?id= logs user ID in (session[:user][:id]), /logout-others
# ends that user's other sessions and /logout-all all of them: these two
# need the proxy's session.userKey set to user.id. /form is a page with
# two forms, each carrying its CSRF token: POST /note keeps a note, POST
# /logout is reset_session; a POST without its form's token is refused
# with 422, as Rails refuses one with its own session store.
#
# It runs under WEBrick (Debian's ruby-webrick), one thread a request; any
# Rack server runs it the same: a config.ru with `require_relative "app"`
# and `run Rails.application`. It needs Rails 6.1's railties and WEBrick:
# Debian bookworm's ruby-railties and ruby-webrick. No database: only
# ActionController (and ActionView, for the form) are loaded.
require "optparse"

ENV["RAILS_ENV"] ||= "production"
require "action_controller/railtie"
require "sessionproxy"

class SessionApp < Rails::Application
  config.load_defaults 6.1
  config.root = __dir__
  config.eager_load = true
  config.cache_classes = true
  config.logger = ActiveSupport::Logger.new($stderr)
  config.log_level = :warn
  # Nothing here is signed or encrypted with it (the session and its CSRF
  # token live at the proxy), but Rails will not start in production
  # without one. An app with signed cookies sets SECRET_KEY_BASE, the
  # same in every process.
  config.secret_key_base = ENV.fetch("SECRET_KEY_BASE") { SecureRandom.hex(64) }

  # sdk/ruby/README.md's Rails section. ENV.fetch: no UPSTREAM_SECRET, no
  # start (an empty one is refused by the library). UPSTREAM_HEADER: the
  # proxy's token.header, when it is not X-Session.
  config.session_store :disabled
  config.middleware.insert_before ActionDispatch::Cookies, SessionProxy::Rack,
                                  secret: ENV.fetch("UPSTREAM_SECRET"),
                                  header: ENV.fetch("UPSTREAM_HEADER", "").then { |h| h.empty? ? "X-Session" : h }
  # Rails adds ActionDispatch::Flash only with a session store; without
  # it +flash+ is undefined.
  config.middleware.insert_after ActionDispatch::Cookies, ActionDispatch::Flash
end

class ApplicationController < ActionController::Base
  protect_from_forgery with: :exception # a POST without its token: 422
end

class SessionsController < ApplicationController
  def set
    session[:user] = { name: "john doe", age: 30 }
    render plain: "session set"
  end

  def get
    user = session[:user]
    return head(:no_content) if user.nil? # no session: empty, as koa answers an unset body

    render json: user
  end

  def destroy
    reset_session # Rails' logout
    render plain: "session destroyed"
  end

  def renew
    request.session_options[:renew] = true
    render plain: "session renewed"
  end

  def login
    session[:user] = { name: params[:name], age: 30 }
    request.session_options[:renew] = true # a new id after a login, against session fixation
    render plain: "logged in"
  end

  def signin
    session[:user] = { id: params[:id] }
    request.session_options[:renew] = true
    render plain: "signed in"
  end

  def logout_others
    SessionProxy.destroy_others(request.env) # "log out my other devices": this session stays
    render plain: "other devices logged out"
  end

  def logout_all
    SessionProxy.destroy_all(request.env) # "log out everywhere", this device too
    render plain: "logged out everywhere"
  end

  def count
    session[:views] = session.fetch(:views, 0) + 1
    render json: { views: session[:views] }
  end

  def cart_add
    (session[:cart] ||= []) << params[:item] # a nested change is sent too
    render json: { cart: session[:cart] }
  end

  def put
    sleep params.fetch(:ms, "0").to_i / 1000.0
    session[params[:key]] = params[:value]
    render plain: "session changed"
  end

  def flash_message
    flash[:notice] = params[:msg] # kept until shown
    render plain: "flashed"
  end

  def messages
    render json: { messages: [flash[:notice]].compact }
  end

  def whoami
    render json: { sid: session.id, new: session.new?, session: session.to_hash }
  end

  FORM = <<~ERB
    <!doctype html>
    <title>notes</title>
    <p>note: <%= session[:note] %></p>
    <%= form_with url: "/note", local: true do |f| %>
      <%= f.text_field :note %> <%= f.submit "Keep" %>
    <% end %>
    <%= button_to "Log out", "/logout" %>
  ERB

  # Each form carries its own token (Rails' per-form CSRF tokens), made
  # from the secret in session[:_csrf_token].
  def form
    render inline: FORM
  end

  def note
    session[:note] = params[:note]
    render plain: "noted"
  end

  def logout
    reset_session
    render plain: "logged out"
  end
end

Rails.application.initialize!
Rails.application.routes.draw do
  scope controller: :sessions do
    get :set, :get, :destroy, :renew, :login, :signin, :count, :put, :messages, :whoami, :form
    get "logout-others", action: :logout_others
    get "logout-all", action: :logout_all
    get "cart/add", action: :cart_add
    get :flash, action: :flash_message
    post :note, :logout
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

serve(Rails.application) if $PROGRAM_NAME == __FILE__
