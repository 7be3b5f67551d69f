# frozen_string_literal: true

# SessionProxy::Rack in front of plain Rack apps, through Rack::MockRequest:
# what a Rack app calls on env["rack.session"], and the headers the proxy
# gets back.
require_relative "helper"
require "rack"
require "rack/mock"
require "logger"
require "stringio"

class TestRack < Minitest::Test
  Testing = SessionProxy::Testing

  # An app whose route is the block, given the session and the request.
  def app(**opts, &route)
    inner = lambda do |env|
      body = route.call(env["rack.session"], Rack::Request.new(env))
      [200, { "content-type" => "text/plain" }, [body.to_s]]
    end
    Rack::Lint.new(SessionProxy::Rack.new(inner, secret: SECRET, **opts))
  end

  # Rack::Lint between the middleware and the app checks the session has
  # the API Rack's sessions have (it reads it, so it is not in app).
  def test_rack_lint_accepts_the_session
    inner = ->(env) { env["rack.session"]["a"] = 1; [200, { "content-type" => "text/plain" }, ["ok"]] }
    res = get(Rack::Lint.new(SessionProxy::Rack.new(Rack::Lint.new(inner), secret: SECRET)))
    assert_equal [200, "ok"], [res.status, res.body]
    assert_equal [{ "a" => 1 }], directives(res)["set"]
  end

  def get(app, sess = {}, env: nil, **token)
    env ||= Testing.env(SECRET, sess, **token)
    Rack::MockRequest.new(app).get("/", env)
  end

  def directives(res)
    Testing.directives(res.headers)
  end

  def set_of(res)
    d = directives(res)
    assert_equal 1, d["set"].length, "one X-Session-Set: #{res.headers.inspect}"
    d["set"][0]
  end

  def test_without_a_valid_token_401_and_the_app_never_runs
    ran = false
    a = app { ran = true }
    [{}, { "HTTP_X_SESSION" => "" }, { "HTTP_X_SESSION" => "not-a-token" },
     Testing.env("another-secret-0123456789abcdef0123"), Testing.env(SECRET, {}, exp: Time.now.to_i - 60),
     Testing.env(SECRET, {}, issuer: "someone")].each do |env|
      res = get(a, env: env)
      assert_equal 401, res.status, env.inspect
      assert_equal "401 Unauthorized: no valid session token\n", res.body
      assert_equal directives(res), Testing.directives({})
    end
    refute ran
  end

  # The client is not told why, the log is: a secret that differs from the
  # proxy's shows there, as with the Go and Python libraries.
  def test_a_refusal_is_logged_with_its_reason
    res = get(app { "ran" }, env: Testing.env("another-secret-0123456789abcdef0123"))
    assert_equal 401, res.status
    assert_match %r{sessionproxy: GET / refused with 401: signature: }, res.errors
    refute_match(/signature/, res.body)

    log = StringIO.new
    logger = Logger.new(log, formatter: ->(severity, _, _, line) { "#{severity} #{line}\n" })
    res = get(app { "ran" }, env: { "rack.logger" => logger })
    assert_equal "INFO sessionproxy: GET / refused with 401: malformed: no token\n", log.string
    assert_equal "", res.errors, "rack.logger takes the line instead"
  end

  def test_the_session_given_without_braces
    res = get(app { |s| s["user"]["name"] }, env: Testing.env(SECRET, "user" => { "name" => "jo" }))
    assert_equal "jo", res.body
    claims = SessionProxy.verify(Testing.mint_token(SECRET, "a" => 1, exp: Time.now.to_i + 5), secret: SECRET)
    assert_equal [{ "a" => 1 }, false], [claims["sess"], claims["new"]]
  end

  def test_the_session_given_as_symbol_keywords
    res = get(app { |s| s["user"]["name"] }, env: Testing.env(SECRET, user: { name: "jo" }))
    assert_equal [200, "jo"], [res.status, res.body]
    claims = SessionProxy.verify(Testing.mint_token(SECRET, cart: [1], sub: "u1", claims: { "tenant" => "t" }), secret: SECRET)
    assert_equal [{ "cart" => [1] }, "u1", "t"], [claims["sess"], claims["sub"], claims["tenant"]]
    assert_raises(ArgumentError) { Testing.mint_token(SECRET, { "a" => 1 }, b: 2) }
  end

  def test_expired_within_the_leeway_is_accepted
    res = get(app { |s| s["user"] }, { "user" => "jo" }, exp: Time.now.to_i - 2)
    assert_equal [200, "jo"], [res.status, res.body]
  end

  def test_not_required_runs_with_an_empty_read_only_session
    seen = nil
    a = app(required: false) do |s, req|
      seen = [s.verified?, s.to_hash, req.env["sessionproxy.error"].reason]
      s["a"] = 1
    end
    err = assert_raises(SessionProxy::Error) { get(a, env: {}) }
    assert_match(/no session/, err.message)
    assert_equal [false, {}, "malformed"], seen
  end

  # Rack::Protection's drop_session clears the session of a request it
  # stops, and Rails' reset_session destroys it: on a request let through
  # without a token there is nothing to drop, which is no error.
  def test_emptying_a_session_without_a_token_is_nothing
    a = app(required: false) do |s|
      s.clear
      s.destroy
      s.delete(:_csrf_token) # Rails 7's reset_session
      s[:user_id] = nil
      "#{s.verified?} #{s.to_hash}"
    end
    res = get(a, env: {})
    assert_equal [200, "false {}"], [res.status, res.body]
    assert_equal Testing.directives({}), directives(res)
  end

  def test_required_as_a_proc_of_the_env
    a = app(required: ->(env) { env["PATH_INFO"] != "/healthz" }) { |s| s.empty? ? "ok" : "?" }
    assert_equal 401, Rack::MockRequest.new(a).get("/").status
    res = Rack::MockRequest.new(a).get("/healthz")
    assert_equal [200, "ok"], [res.status, res.body]
  end

  def test_reading_sends_nothing_and_varies_on_cookie
    res = get(app { |s| "#{s["user"]["name"]} #{s[:user]["age"]} #{s.fetch("x", 0)} #{s.dig(:user, "name")} #{s.key?(:user)}" },
              { "user" => { "name" => "jo", "age" => 30 } })
    assert_equal "jo 30 0 jo true", res.body
    assert_equal Testing.directives({}), directives(res)
    assert_equal "Cookie", res.headers["vary"]
  end

  def test_not_reading_the_session_adds_no_vary
    res = get(app { "hello" }, { "user" => "jo" })
    assert_nil res.headers["vary"]
    assert_equal Testing.directives({}), directives(res)
  end

  def test_vary_joins_the_apps_own
    inner = lambda do |env|
      env["rack.session"]["a"]
      [200, { "Vary" => "Accept-Encoding" }, ["x"]]
    end
    res = get(SessionProxy::Rack.new(inner, secret: SECRET))
    assert_equal "Accept-Encoding, Cookie", res.headers["Vary"]
  end

  def test_changes_are_the_smallest_merge_patch
    res = get(app do |s|
      s[:count] = s.fetch(:count, 0) + 1 # a Symbol key is its name
      s["user"]["age"] += 1              # nested
      s.delete(:gone)
      s["none"] = nil                    # nil deletes
      s.update(extra: [1, :two])
    end, { "count" => 1, "user" => { "name" => "jo", "age" => 30 }, "gone" => true, "none" => 1, "same" => "x" })
    assert_equal({ "count" => 2, "user" => { "age" => 31 }, "gone" => nil, "none" => nil, "extra" => [1, "two"] }, set_of(res))
  end

  def test_non_ascii_is_sent_as_ascii_json
    res = get(app { |s| s["name"] = "Zoë ✓\u007f" })
    raw = res.headers["x-session-set"]
    assert_match(/\A[ -~]*\z/, raw)
    assert_equal({ "name" => "Zoë ✓\u007f" }, JSON.parse(raw))
  end

  def test_destroy_and_the_helpers
    cases = {
      "destroy" => [->(s, env) { s.destroy }, { "destroy" => true }],
      "SessionProxy.destroy" => [->(s, env) { SessionProxy.destroy(env) }, { "destroy" => true }],
      "destroy, then a key: a new session" => [->(s, env) { s.destroy; s["a"] = 1 }, { "destroy" => true, "set" => [{ "a" => 1 }] }],
      "options[:drop]" => [->(s, env) { env["rack.session.options"][:drop] = true }, { "destroy" => true }],
      "clear leaving it empty" => [->(s, env) { s.clear }, { "destroy" => true }],
      "clear, then a key" => [->(s, env) { s.clear; s["a"] = 1 }, { "set" => [{ "a" => 1, "user" => nil }] }],
      "SessionProxy.regenerate" => [->(s, env) { SessionProxy.regenerate(env) }, { "renew" => true }],
      "options[:renew]" => [->(s, env) { s.options[:renew] = true }, { "renew" => true }],
      "SessionProxy.set_max_age" => [->(s, env) { SessionProxy.set_max_age(env, 60_000) }, { "max_age" => 60_000 }],
      "set_max_age session" => [->(s, env) { SessionProxy.set_max_age(env, "session") }, { "max_age" => "session" }],
      "options[:expire_after] in seconds" => [->(s, env) { s.options[:expire_after] = 3600 }, { "max_age" => 3_600_000 }],
      "options[:expire_after] nil" => [->(s, env) { s.options[:expire_after] = nil }, { "max_age" => "session" }],
      "a max age, then destroy" => [->(s, env) { s.max_age = 1000; s.destroy }, { "destroy" => true }],
      "options[:skip]" => [->(s, env) { s["a"] = 1; s.options[:skip] = true }, {}],
      # Rails' request.session_options = ... replaces the Hash in the env.
      "options replaced by { skip: true }" => [->(s, env) { s["a"] = 1; env["rack.session.options"] = { skip: true } }, {}],
      "options replaced by { renew: true }" => [->(s, env) { env["rack.session.options"] = { renew: true } }, { "renew" => true }],
      "SessionProxy.destroy_others" => [->(s, env) { SessionProxy.destroy_others(env) }, { "destroy_others" => true }],
      "SessionProxy.destroy_all" => [->(s, env) { SessionProxy.destroy_all(env) }, { "destroy" => true, "destroy_others" => true }],
      "destroy and destroy_others" => [->(s, env) { s.destroy_others; s.destroy }, { "destroy" => true, "destroy_others" => true }],
      "destroy, then renew: no renew" => [->(s, env) { s.destroy; s.regenerate; s["a"] = 1 }, { "destroy" => true, "set" => [{ "a" => 1 }] }],
    }
    cases.each do |name, (route, want)|
      res = get(app { |s, req| route.call(s, req.env) }, { "user" => "jo" })
      assert_equal 200, res.status, name
      assert_equal Testing.directives({}).merge(want), directives(res), name
    end
  end

  def test_a_max_age_out_of_range_raises
    [0, -1, SessionProxy::MAX_AGE_LIMIT + 1, "60000", nil, true].each do |v|
      assert_raises(ArgumentError, v.inspect) { get(app { |_s, req| SessionProxy.set_max_age(req.env, v) }) }
    end
    assert_raises(ArgumentError) { get(app { |s| s.options[:expire_after] = "1h" }) }
  end

  def test_directives_set_by_hand_are_replaced
    inner = lambda do |env|
      env["rack.session"]["a"] = 2
      [200, { "X-Session-Set" => '{"a":1,"admin":true}', "X-Session-Renew" => "true", "content-type" => "text/plain" }, ["x"]]
    end
    res = get(SessionProxy::Rack.new(inner, secret: SECRET), { "a" => 1 })
    assert_equal Testing.directives({}).merge("set" => [{ "a" => 2 }]), directives(res)
  end

  def test_the_header_option_names_the_directives
    a = app(header: "X-App-Session") { |s| s["a"] = 1 }
    res = Rack::MockRequest.new(a).get("/", Testing.env(SECRET, {}, header: "X-App-Session"))
    assert_equal 200, res.status
    assert_equal [{ "a" => 1 }], Testing.directives(res.headers, "X-App-Session")["set"]
    assert_equal 401, get(a).status, "the token in X-Session is not the one"
  end

  def test_what_the_proxy_sent
    seen = nil
    a = app { |s| seen = [s.id, s.new?, s.exists?, s.loaded?, s.claims["iss"]] }
    get(a, { "a" => 1 }, sid: "abc")
    assert_equal ["abc", false, true, true, "sessionproxy"], seen
    get(a, {}, sid: nil)
    assert_equal [nil, true, false, true, "sessionproxy"], seen
  end

  def test_underscore_keys_are_stored_under_ruby
    seen = nil
    res = get(app do |s|
      seen = s.to_hash
      s[:_csrf_token] = "t2"
      s.delete("_flash")
    end, { "ruby:_csrf_token" => "t1", "ruby:_flash" => "hi", "_expire" => 1, "python:_flashes" => [] })
    assert_equal({ "_csrf_token" => "t1", "_flash" => "hi", "python:_flashes" => [] }, seen, "the proxy's own _ keys are not the app's")
    assert_equal({ "ruby:_csrf_token" => "t2", "ruby:_flash" => nil }, set_of(res))
    err = assert_raises(SessionProxy::ReservedKeyError) { get(app { |s| s["ruby:_x"] = 1 }) }
    assert_match(/"_x"/, err.message)
  end

  def test_a_value_json_cannot_hold_names_its_key
    closed = false
    body = Object.new
    body.define_singleton_method(:each) { |&b| b.call("x") }
    body.define_singleton_method(:close) { closed = true }
    inner = lambda do |env|
      env["rack.session"]["ok"] = 1
      env["rack.session"]["at"] = { "when" => Time.at(0) }
      [200, {}, body]
    end
    err = assert_raises(SessionProxy::UnencodableValue) { get(SessionProxy::Rack.new(inner, secret: SECRET)) }
    assert_equal "at", err.key
    assert_match(/session\["at"\].*Time/, err.message)
    assert_kind_of TypeError, err
    assert closed, "the app's body was closed"
  end

  def test_a_change_while_the_body_streams_raises
    inner = lambda do |env|
      s = env["rack.session"]
      body = Enumerator.new do |y|
        y << "a"
        s["late"] = 1
      end
      [200, {}, body]
    end
    res = Rack::MockRequest.new(SessionProxy::Rack.new(inner, secret: SECRET))
    assert_raises(SessionProxy::SessionSealedError) { res.get("/", Testing.env(SECRET)) }
  end

  def test_a_nested_change_while_the_body_streams_raises_at_its_end
    inner = lambda do |env|
      s = env["rack.session"]
      s["cart"] = []
      body = Enumerator.new do |y|
        y << "a"
        s["cart"] << 1
      end
      [200, {}, body]
    end
    chunks = []
    status, headers, body = SessionProxy::Rack.new(inner, secret: SECRET).call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert_equal 200, status
    assert_equal({ "cart" => [] }, JSON.parse(headers["x-session-set"]))
    assert_raises(SessionProxy::SessionSealedError) { body.each { |c| chunks << c } }
    assert_equal ["a"], chunks
    body.close # checked once
  end

  def test_an_unchanged_streamed_body_passes_through
    inner = ->(env) { env["rack.session"]["a"] = 1; [200, {}, Enumerator.new { |y| y << "a" << "b" }] }
    res = Rack::MockRequest.new(SessionProxy::Rack.new(inner, secret: SECRET)).get("/", Testing.env(SECRET))
    assert_equal "ab", res.body
  end

  # Rack 3's streaming body answers #call(stream) and not #each; a server
  # calls #each on any body that has it, so the wrapped body must not
  # claim one it lacks, and a change made in #call is caught at its end.
  def test_a_rack3_streaming_body_is_called_not_iterated
    stream = Class.new do
      attr_reader :out

      def initialize
        @out = +""
      end

      def write(s)
        @out << s
      end

      def close; end
    end
    late = false
    inner = lambda do |env|
      s = env["rack.session"]
      s["a"] = 1
      [200, {}, lambda { |io|
        io.write("streamed")
        s["a"] = 2 if late
        io.close
      }]
    end
    mw = SessionProxy::Rack.new(inner, secret: SECRET)
    _, headers, body = mw.call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    refute body.respond_to?(:each), "a streaming body has no #each"
    assert body.respond_to?(:call)
    io = stream.new
    body.call(io)
    assert_equal "streamed", io.out
    assert_equal({ "a" => 1 }, JSON.parse(headers["x-session-set"]))
    late = true
    _, _, body = mw.call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert_raises(SessionProxy::SessionSealedError) { body.call(stream.new) }
    _, _, body = SessionProxy::Rack.new(->(_) { [200, {}, ["x"]] }, secret: SECRET)
                                   .call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert body.respond_to?(:each)
    refute body.respond_to?(:call), "an enumerable body is not made a streaming one"
  end

  # Rack 3's Rack::ETag and Rack::ContentLength read a body whole through
  # #to_ary, and skip one without it (no ETag, no 304); Rack 3 asks that
  # #to_ary then close the body, since no one else will.
  def test_to_ary_reads_the_body_whole_and_closes_it_once
    closes = 0
    parts = %w[a b]
    parts.define_singleton_method(:close) { closes += 1 }
    _, _, body = SessionProxy::Rack.new(->(_) { [200, {}, parts] }, secret: SECRET)
                                   .call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert body.respond_to?(:to_ary), "a body that has #to_ary keeps it"
    assert_equal %w[a b], body.to_ary
    assert_equal 1, closes, "#to_ary closes the body"
    body.close
    assert_equal 1, closes, "and a later #close does not close it again"
    inner = lambda do |env|
      env["rack.session"]["cart"] = []
      [200, {}, ["x"]]
    end
    mw = SessionProxy::Rack.new(inner, secret: SECRET)
    env = Rack::MockRequest.env_for("/", Testing.env(SECRET))
    _, _, body = mw.call(env)
    env["rack.session"]["cart"] << 1 # a nested change the headers missed
    assert_raises(SessionProxy::SessionSealedError) { body.to_ary }
    _, _, body = SessionProxy::Rack.new(->(_) { [200, {}, Enumerator.new { |y| y << "a" }] }, secret: SECRET)
                                   .call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    refute body.respond_to?(:to_ary), "a body without #to_ary gets none"
  end

  # Rack 3 lets a header's value be an Array of values.
  def test_vary_given_as_a_list_of_values
    inner = lambda do |env|
      env["rack.session"]["a"]
      [200, { "vary" => %w[accept origin] }, ["x"]]
    end
    _, headers, = SessionProxy::Rack.new(inner, secret: SECRET).call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert_equal %w[accept origin Cookie], headers["vary"]
    inner = lambda do |env|
      env["rack.session"]["a"]
      [200, { "vary" => %w[accept cookie] }, ["x"]]
    end
    _, headers, = SessionProxy::Rack.new(inner, secret: SECRET).call(Rack::MockRequest.env_for("/", Testing.env(SECRET)))
    assert_equal %w[accept cookie], headers["vary"]
  end

  def test_the_jar_plays_the_proxy_across_requests
    a = app do |s, req|
      case req.path_info
      when "/login" then s[:user] = { name: req.params["name"] }; SessionProxy.regenerate(req.env); "in"
      when "/count" then s[:views] = s.fetch(:views, 0) + 1
      when "/logout" then s.clear; "out"
      end
    end
    jar = Testing::SessionJar.new(SECRET)
    m = Rack::MockRequest.new(a)
    jar.apply(m.get("/count", jar.env).headers)
    assert_equal "2", m.get("/count", jar.env).tap { |r| jar.apply(r.headers) }.body
    sid = jar.sid
    jar.apply(m.get("/login?name=jo", jar.env).headers)
    assert_equal({ "views" => 2, "user" => { "name" => "jo" } }, jar.data)
    refute_equal sid, jar.sid
    jar.apply(m.get("/logout", jar.env).headers)
    assert_equal({}, jar.data)
  end
end
