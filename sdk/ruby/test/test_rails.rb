# frozen_string_literal: true

# Rails' own session API (ActionController's session, reset_session,
# request.session_options, flash, and CSRF's session[:_csrf_token]) backed
# by the proxy, with Debian's actionpack (Rails 6.1) and no whole Rails
# application: SessionProxy::Rack in front of a route set, as in an app's
# middleware stack in place of the session store.
require_relative "helper"
require "action_controller"
require "action_dispatch/middleware/flash" # in an application, ActionDispatch::Flash loads it (test_rails_app.rb)
require "rack/mock"

class RailsAppController < ActionController::Base
  protect_from_forgery with: :exception

  def token
    render(plain: form_authenticity_token)
  end

  def login
    session[:user_id] = params[:id]
    request.session_options[:renew] = true
    render plain: "logged in"
  end

  def whoami
    render(plain: "#{session[:user_id]}|#{flash[:notice]}")
  end

  def logout
    reset_session
    render plain: "logged out"
  end

  def relogin
    reset_session
    session[:user_id] = params[:id]
    render plain: "logged in again"
  end

  def notice
    flash[:notice] = "saved"
    render plain: "noticed"
  end

  def remember
    request.session_options[:expire_after] = 14.days
    render plain: "remembered"
  end

  def change
    render(plain: "changed")
  end

  def public_page
    render(plain: "the same page for everyone")
  end
end

# A controller that refuses a POST without its CSRF token by running it
# without the session (Rails' null_session, for APIs), after a filter
# that writes the session.
class RailsNullSessionController < ActionController::Base
  before_action { session[:visits] = session.fetch(:visits, 0) + 1 }
  protect_from_forgery with: :null_session

  def token
    render(plain: form_authenticity_token)
  end

  def change
    session[:changed] = true
    render plain: "changed: #{session[:changed]}"
  end
end

class TestRails < Minitest::Test
  Testing = SessionProxy::Testing

  ROUTES = ActionDispatch::Routing::RouteSet.new.tap do |r|
    r.draw do
      get "/token" => "rails_app#token"
      get "/login" => "rails_app#login"
      get "/whoami" => "rails_app#whoami"
      get "/logout" => "rails_app#logout"
      get "/relogin" => "rails_app#relogin"
      get "/notice" => "rails_app#notice"
      get "/remember" => "rails_app#remember"
      post "/change" => "rails_app#change"
      get "/public" => "rails_app#public_page"
      get "/null/token" => "rails_null_session#token"
      post "/null/change" => "rails_null_session#change"
    end
  end
  APP = Rack::Builder.new do
    use SessionProxy::Rack, secret: SECRET
    run ROUTES
  end.to_app

  def setup
    @jar = Testing::SessionJar.new(SECRET)
    @m = Rack::MockRequest.new(APP)
  end

  def get(path)
    res = @m.get(path, @jar.env)
    [res, @jar.apply(res.headers)]
  end

  def test_login_and_reset_session
    res, d = get("/login?id=7")
    assert_equal "logged in", res.body
    assert_equal [{ "user_id" => "7" }], d["set"]
    assert d["renew"], "session_options[:renew] renews the id"
    assert_equal "7|", get("/whoami")[0].body
    assert_includes get("/whoami")[0].headers["Vary"].to_s, "Cookie"
    _, d = get("/logout")
    assert d["destroy"], "reset_session destroys the session"
    assert_equal({}, @jar.data)
    _, d = get("/login?id=7")
    _, d = get("/relogin?id=8")
    assert d["destroy"]
    assert_equal({ "user_id" => "8" }, @jar.data, "keys set after reset_session start the new session")
  end

  def test_csrf_token_is_kept_under_its_stored_name
    token = get("/token")[0].body
    assert_equal ["ruby:_csrf_token"], @jar.data.keys
    res = @m.post("/change", @jar.env.merge("HTTP_X_CSRF_TOKEN" => token))
    assert_equal [200, "changed"], [res.status, res.body]
    assert_equal Testing.directives({}), Testing.directives(res.headers), "checking the token changes nothing"
    assert_raises(ActionController::InvalidAuthenticityToken) do
      @m.post("/change", @jar.env.merge("HTTP_X_CSRF_TOKEN" => Base64.strict_encode64("x" * 64)))
    end
  end

  # protect_from_forgery with: :null_session runs a POST without its
  # token with an empty session and sets request.session_options to
  # { skip: true }, a new Hash in the env, so that Rails' stores save
  # nothing of that request, not even what a filter before the check
  # wrote. The library reads the options from the env when the app
  # returns, as Rails' stores do: nothing is sent either.
  def test_null_session_sends_nothing_for_a_post_without_its_token
    token = get("/null/token")[0].body
    assert_equal({ "visits" => 1 }, @jar.data.reject { |k, _| k.start_with?("ruby:") })
    res = @m.post("/null/change", @jar.env)
    assert_equal [200, "changed: true"], [res.status, res.body]
    assert_equal Testing.directives({}), Testing.directives(res.headers), "a refused POST changes nothing"
    res = @m.post("/null/change", @jar.env.merge("HTTP_X_CSRF_TOKEN" => token))
    assert_equal [200, "changed: true"], [res.status, res.body]
    assert_equal [{ "visits" => 2, "changed" => true }], Testing.directives(res.headers)["set"]
  end

  def test_flash_shows_once
    get("/notice")
    assert_equal "|saved", get("/whoami")[0].body
    assert_equal "|", get("/whoami")[0].body
    assert_equal({}, @jar.data, "the shown flash is removed from the session")
  end

  # Rails' flash asks a session that says it is loaded whether it holds
  # "flash" after every action; a page that never used the session must
  # not vary on the cookie for that, or no shared cache keeps it.
  def test_a_page_that_never_uses_the_session_does_not_vary_on_cookie
    res, d = get("/public")
    assert_equal "the same page for everyone", res.body
    refute_includes res.headers["Vary"].to_s, "Cookie"
    assert_equal Testing.directives({}), d
    get("/notice")
    res, = get("/public")
    refute_includes res.headers["Vary"].to_s, "Cookie"
    assert_equal "|saved", get("/whoami")[0].body, "a flash waits for the page that shows it, as with Rails' stores"
  end

  def test_expire_after_a_duration
    _, d = get("/remember")
    assert_equal 14 * 24 * 3600 * 1000, d["max_age"]
  end
end
