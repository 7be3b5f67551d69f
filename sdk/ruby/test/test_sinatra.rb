# frozen_string_literal: true

# Sinatra's own +session+ helper, backed by the proxy through
# SessionProxy::Rack, as a Sinatra app moving off Rack's cookie sessions
# uses it.
require_relative "helper"
require "rack/mock"
require "sinatra/base"

class TestSinatra < Minitest::Test
  Testing = SessionProxy::Testing

  class App < Sinatra::Base
    set :environment, :test
    set :raise_errors, true
    set :show_exceptions, false
    set :protection, false # as the README says: Sinatra's own goes before the session...
    use SessionProxy::Rack, secret: SECRET
    use Rack::Protection, reaction: :drop_session, without_session: true # ...so it goes after it

    get("/set") { session[:user] = { name: "john doe", age: 30 }; "session set" }
    get("/get") { session[:user] ? json(session[:user]) : halt(204) }
    get("/destroy") { session.clear; "session destroyed" }
    get("/renew") { SessionProxy.regenerate(env); "session renewed" }
    get("/remember") { request.session_options[:expire_after] = 14 * 24 * 3600; "remembered" }
    get("/flash") { session[:_flash] = params["msg"]; redirect "/show" }
    get("/show") { session.delete(:_flash).to_s }
    post("/transfer") { "from #{session[:user]&.fetch("name").inspect}" }
    get("/stream") do
      stream do |out|
        out << "a"
        session[:late] = 1
      end
    end

    helpers do
      def json(v)
        content_type :json
        JSON.generate(v)
      end
    end
  end

  def setup
    @jar = Testing::SessionJar.new(SECRET)
    @m = Rack::MockRequest.new(App)
  end

  def get(path)
    res = @m.get(path, @jar.env)
    @jar.apply(res.headers)
    res
  end

  def test_the_seed_routes
    assert_equal 204, get("/get").status
    assert_equal "session set", get("/set").body
    res = get("/get")
    assert_equal [200, { "name" => "john doe", "age" => 30 }], [res.status, JSON.parse(res.body)]
    assert_includes res.headers["Vary"].to_s, "Cookie"
    sid = @jar.sid
    get("/renew")
    refute_equal sid, @jar.sid
    assert_equal({ "user" => { "name" => "john doe", "age" => 30 } }, @jar.data)
    res = get("/destroy")
    assert Testing.directives(res.headers)["destroy"]
    assert_equal 204, get("/get").status
  end

  def test_request_session_options_expire_after
    res = get("/remember")
    assert_equal 14 * 24 * 3600 * 1000, Testing.directives(res.headers)["max_age"]
  end

  def test_an_underscore_key_survives_a_redirect_under_its_stored_name
    res = get("/flash?msg=saved")
    assert_equal 302, res.status
    assert_equal({ "ruby:_flash" => "saved" }, @jar.data)
    assert_equal "saved", get("/show").body
    assert_equal({}, @jar.data)
  end

  def test_a_change_in_a_stream_raises
    assert_raises(SessionProxy::SessionSealedError) { @m.get("/stream", @jar.env) }
  end

  # Sinatra's Rack::Protection stops a cross-site request (HttpOrigin: a
  # POST from another Origin) by dropping its session, as with
  # enable :sessions: it must see the proxy's session to drop it.
  def test_a_cross_site_post_loses_its_session
    get("/set")
    res = @m.post("/transfer", @jar.env.merge("HTTP_ORIGIN" => "http://example.org"))
    assert_equal "from \"john doe\"", res.body, "a POST from the app's own origin"
    res = @m.post("/transfer", @jar.env.merge("HTTP_ORIGIN" => "http://evil.example"))
    assert_equal "from nil", res.body, "a POST from another site runs without the session"
    assert Testing.directives(res.headers)["destroy"], "and the session ends, as Rack's own store is emptied"
  end

  class OpenApp < Sinatra::Base
    set :environment, :test
    set :raise_errors, true
    set :show_exceptions, false
    set :protection, false
    use SessionProxy::Rack, secret: SECRET, required: false
    use Rack::Protection, reaction: :drop_session, without_session: true

    post("/comment") { "from #{session[:user].inspect}" }
  end

  def test_a_cross_site_post_without_a_token_runs_without_a_session
    res = Rack::MockRequest.new(OpenApp).post("/comment", "HTTP_ORIGIN" => "http://evil.example")
    assert_equal [200, "from nil"], [res.status, res.body]
  end

  def test_without_a_token_401
    assert_equal 401, @m.get("/get").status
  end
end
