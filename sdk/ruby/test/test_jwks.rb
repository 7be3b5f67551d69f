# frozen_string_literal: true

# EdDSA and ES256 tokens verified with keys from a real JWKS server on a
# loopback port, as the proxy's admin listener serves them: a rotation
# (unknown kid) refetches at once, a flood of unknown kids does not, and an
# outage is a 503, not a 401.
require_relative "helper"
require "rack"
require "rack/mock"

class TestJWKS < Minitest::Test
  def setup
    @ed = Keys.ed25519
    @ec = Keys.p256
    @keys = [Keys.jwk(@ed, "ed1"), Keys.jwk(@ec, "ec1")]
    @status = 200
    @server = LocalServer.new { [@status, JSON.generate({ "keys" => @keys })] }
  end

  def teardown
    @server.stop
  end

  def verifier(**opts)
    SessionProxy::Verifier.new(jwks_url: @server.url, **opts)
  end

  def test_eddsa_and_es256
    v = verifier
    assert_equal({ "a" => 1 }, v.verify(Keys.mint(@ed, "ed1", { "a" => 1 }))["sess"])
    assert_equal({ "b" => 2 }, v.verify(Keys.mint(@ec, "ec1", { "b" => 2 }))["sess"])
    assert_equal 1, v.keyset.fetches, "the set is fetched once and cached"
  end

  def test_refused_tokens
    v = verifier(audience: "web")
    other = Keys.ed25519
    {
      "signature" => Keys.mint(other, "ed1", aud: "web"),
      "alg" => Keys.mint(@ec, "ed1", aud: "web"), # an ES256 token naming the Ed25519 key
      "audience" => Keys.mint(@ed, "ed1", aud: "billing"),
      "expired" => Keys.mint(@ed, "ed1", exp: Time.now.to_i - 60, aud: "web"),
      "issuer" => Keys.mint(@ed, "ed1", iss: "someone", aud: "web"),
    }.each do |reason, token|
      err = assert_raises(SessionProxy::InvalidToken, reason) { v.verify(token) }
      assert_equal reason, err.reason
    end
    hs = SessionProxy::Testing.mint_token(SECRET, {}, audience: "web")
    assert_equal "alg", assert_raises(SessionProxy::InvalidToken) { v.verify(hs) }.reason, "no HS256 without a secret"
  end

  def test_a_new_kid_refetches_once_then_waits_out_the_interval
    v = verifier(jwks_refetch_interval: 60)
    v.verify(Keys.mint(@ed, "ed1"))
    rotated = Keys.ed25519
    @keys << Keys.jwk(rotated, "ed2")
    assert_equal "s1", v.verify(Keys.mint(rotated, "ed2"))["sid"], "the rotated key is fetched at once"
    assert_equal 2, v.keyset.fetches
    5.times do |i|
      err = assert_raises(SessionProxy::InvalidToken) { v.verify(Keys.mint(@ed, "made-up-#{i}")) }
      assert_equal "kid", err.reason
    end
    assert_equal 2, v.keyset.fetches, "no refetch for a flood of unknown kids within the interval"
  end

  def test_an_outage_is_a_503
    @status = 500
    app = SessionProxy::Rack.new(->(_env) { [200, {}, ["ok"]] }, jwks_url: @server.url, jwks_refetch_interval: 60)
    res = Rack::MockRequest.new(app).get("/", "HTTP_X_SESSION" => Keys.mint(@ed, "ed1"))
    assert_equal 503, res.status
    assert_equal "503 Service Unavailable: the session keys are unavailable\n", res.body
    assert_match %r{sessionproxy: GET / refused with 503: .*status 500}, res.errors, "the cause is logged"
    res = Rack::MockRequest.new(app).get("/", "HTTP_X_SESSION" => Keys.mint(@ed, "ed1"))
    assert_equal 503, res.status
    assert_equal 1, app.verifier.keyset.fetches, "no fetch again within the interval"
    res = Rack::MockRequest.new(app).get("/", "HTTP_X_SESSION" => "nope")
    assert_equal 401, res.status, "a malformed token is a 401 whatever the JWKS"
  end

  def test_a_jwks_that_hangs_is_an_outage_within_the_timeout
    hang = LocalServer.new { sleep 3; [200, "{}"] }
    v = SessionProxy::Verifier.new(jwks_url: hang.url, jwks_timeout: 0.5)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(SessionProxy::KeySetError) { v.verify(Keys.mint(@ed, "ed1")) }
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 0.9, "waited past the timeout"
    assert_equal 1, hang.hits, "one request per fetch: Net::HTTP retries a GET that timed out, doubling the wait"
  ensure
    hang&.stop
  end

  # The JWKS URL the Go, Python, Node and Java libraries are given works
  # here too when it redirects (to the set's canonical place, a gateway's
  # path), within a few hops.
  def test_a_redirect_is_followed
    hops = LocalServer.new { [302, "", { "Location" => "/moved" }] }
    relay = LocalServer.new { [301, "", { "Location" => @server.url }] }
    v = SessionProxy::Verifier.new(jwks_url: relay.url)
    assert_equal({ "a" => 1 }, v.verify(Keys.mint(@ed, "ed1", { "a" => 1 }))["sess"])
    loop_v = SessionProxy::Verifier.new(jwks_url: hops.url)
    err = assert_raises(SessionProxy::KeySetError) { loop_v.verify(Keys.mint(@ed, "ed1")) }
    assert_match(/redirects/, err.message)
  ensure
    hops&.stop
    relay&.stop
  end

  def test_the_old_keys_stay_when_a_refresh_fails
    now = 0.0
    ks = SessionProxy::KeySet.new(@server.url, max_age: 100, refetch_interval: 10, now: -> { now })
    refute_nil ks.get("ed1")
    @status = 500
    now = 200.0
    refute_nil ks.get("ed1"), "a known kid does not wait for the refresh"
    deadline = Time.now + 10
    sleep 0.01 until (ks.fetches == 2 && @server.hits == 2) || Time.now > deadline
    assert_equal 2, @server.hits, "the stale set was refetched in the background"
    sleep 0.05
    refute_nil ks.get("ed1"), "the old keys are kept after the refresh failed"
  end

  def test_a_secret_and_a_jwks_together
    v = SessionProxy::Verifier.new(secret: SECRET, jwks_url: @server.url)
    assert_equal "s1", v.verify(Keys.mint(@ec, "ec1"))["sid"]
    assert_equal({ "a" => 1 }, v.verify(SessionProxy::Testing.mint_token(SECRET, { "a" => 1 }))["sess"])
  end
end

class TestVerifierOptions < Minitest::Test
  def test_refused_configurations
    assert_raises(ArgumentError) { SessionProxy::Verifier.new(secret: "") }
    assert_raises(ArgumentError) { SessionProxy::Verifier.new }
    assert_raises(ArgumentError) { SessionProxy::Verifier.new(secret: "s", old_secrets: [""]) }
    assert_raises(TypeError) { SessionProxy::Verifier.new(secret: "s", old_secrets: "old") }
    assert_raises(ArgumentError) { SessionProxy::Rack.new(->(_) {}, secret: nil) }
    assert_raises(ArgumentError) { SessionProxy::Verifier.new(jwks_url: "file:///etc/passwd") }
  end

  def test_old_secrets_verify_after_a_rotation
    v = SessionProxy::Verifier.new(secret: "new-secret", old_secrets: ["old-secret"])
    assert_equal({ "a" => 1 }, v.verify(SessionProxy::Testing.mint_token("old-secret", { "a" => 1 }))["sess"])
    assert_equal "signature", assert_raises(SessionProxy::InvalidToken) { v.verify(SessionProxy::Testing.mint_token("other", {})) }.reason
  end

  def test_malformed_tokens_are_invalid_never_a_crash
    tok = SessionProxy::Testing.mint_token(SECRET, {})
    h, p, s = tok.split(".")
    deep = SessionProxy.b64encode(%({"sess":{},"iss":"sessionproxy","exp":#{Time.now.to_i + 60},"x":#{"[" * 3000}#{"]" * 3000}}))
    sign = ->(head, payload) { "#{head}.#{payload}.#{SessionProxy.b64encode(OpenSSL::HMAC.digest("SHA256", SECRET, "#{head}.#{payload}"))}" }
    {
      "four parts" => "#{tok}.x",
      "bad base64" => "#{h}.#{p}.***",
      "header a list" => sign.call(SessionProxy.b64encode('["HS256"]'), p),
      "payload a list" => sign.call(h, SessionProxy.b64encode("[1]")),
      "exp a string" => sign.call(h, SessionProxy.b64encode('{"sess":{},"iss":"sessionproxy","exp":"soon"}')),
      "sess a list" => sign.call(h, SessionProxy.b64encode(%({"sess":[1],"iss":"sessionproxy","exp":#{Time.now.to_i + 60}}))),
      "nested 3000 deep" => sign.call(h, deep),
      "not UTF-8" => sign.call(h, SessionProxy.b64encode("{\"sess\":\"\xff\"}".b)),
      "not ASCII" => "#{h}é.#{p}.#{s}",
    }.each do |name, token|
      err = assert_raises(SessionProxy::InvalidToken, name) { SessionProxy.verify(token, secret: SECRET) }
      assert_equal "malformed", err.reason, name
    end
  end
end
