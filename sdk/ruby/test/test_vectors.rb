# frozen_string_literal: true

# The shared conformance vectors in sdk/testdata/vectors.json, written by
# the proxy's own code: every token and every patch vector.
require_relative "helper"

class TestTokenVectors < Minitest::Test
  def setup
    doc = JSON.generate(load_testdata("vectors.json")["jwks"])
    @jwks = LocalServer.new { [200, doc] }
  end

  def teardown
    @jwks.stop
  end

  def test_tokens
    v = load_testdata("vectors.json")
    refute_empty v["tokens"]
    v["tokens"].each do |tc|
      opts = tc.key?("secret") ? { secret: tc["secret"] } : { jwks_url: @jwks.url }
      opts[:audience] = tc["audience"] if tc["audience"]
      if tc["error"]
        err = assert_raises(SessionProxy::InvalidToken, tc["name"]) { SessionProxy.verify(tc["token"], **opts) }
        assert_equal tc["error"], err.reason, tc["name"]
        assert_includes err.message, tc["error"], tc["name"]
      else
        assert_equal tc["claims"], SessionProxy.verify(tc["token"], **opts), tc["name"]
      end
    end
  end

  def test_verifier_reused
    v = load_testdata("vectors.json")
    verifier = SessionProxy::Verifier.new(secret: v["secret"])
    ok = v["tokens"].select { |tc| tc["claims"] && !tc["audience"] && tc["secret"] }
    refute_empty ok
    ok.each { |tc| assert_equal tc["claims"], verifier.verify(tc["token"]), tc["name"] }
  end
end

class TestPatchVectors < Minitest::Test
  def vectors
    load_testdata("vectors.json")["patches"]
  end

  def test_diff
    vectors.each do |tc|
      patch = SessionProxy::Patch.diff(tc["before"], tc["after"])
      if tc["patch"].nil?
        assert_empty patch, tc["name"]
      else
        assert_equal tc["patch"], patch, tc["name"]
      end
    end
  end

  # A session that arrived as before and is after at response time sends
  # exactly patch as X-Session-Set, or no header at all.
  def test_session_headers
    vectors.each do |tc|
      s = SessionProxy::Session.new({ "sid" => "x", "sess" => tc["before"], "new" => false })
      s.keys.each { |k| s.delete(k) unless tc["after"].key?(k) }
      tc["after"].each { |k, v| s[k] = JSON.parse(JSON.generate(v)) }
      headers = s.directives
      if tc["patch"].nil?
        assert_equal [], headers, tc["name"]
      else
        assert_equal 1, headers.length, tc["name"]
        assert_equal "X-Session-Set", headers[0][0]
        assert_equal tc["patch"], JSON.parse(headers[0][1]), tc["name"]
        assert_match(/\A[ -~]*\z/, headers[0][1], "#{tc["name"]}: not printable ASCII")
      end
    end
  end

  # Nested changes made in place are found by comparison.
  def test_nested_in_place
    by_name = vectors.to_h { |tc| [tc["name"], tc] }
    tc = by_name.fetch("array appended is replaced whole")
    s = SessionProxy::Session.new({ "sess" => tc["before"] })
    s["cart"] << 3
    assert_equal tc["patch"], JSON.parse(s.directives[0][1])
    tc = by_name.fetch("nested change")
    s = SessionProxy::Session.new({ "sess" => tc["before"] })
    s["user"]["age"] += 1
    assert_equal tc["patch"], JSON.parse(s.directives[0][1])
  end
end

class TestDiffBeyondVectors < Minitest::Test
  def test_json_equality
    assert_equal({ "a" => true }, SessionProxy::Patch.diff({ "a" => 1 }, { "a" => true }))
    assert_equal({ "a" => false }, SessionProxy::Patch.diff({ "a" => 0 }, { "a" => false }))
    assert_equal({}, SessionProxy::Patch.diff({ "a" => 1 }, { "a" => 1.0 }))
    assert_equal({ "a" => [true] }, SessionProxy::Patch.diff({ "a" => [1] }, { "a" => [true] }))
  end

  def test_number_past_the_float_range_is_no_change
    s = SessionProxy::Session.new({ "sess" => JSON.parse('{"big":1e400,"a":1}') })
    assert_equal [], s.directives
    s["a"] = 2
    assert_equal [["X-Session-Set", '{"a":2}']], s.directives
    s["big"] = Float::NAN
    err = assert_raises(SessionProxy::UnencodableValue) { s.directives }
    assert_equal "big", err.key
  end

  def test_nils_in_a_new_object_are_left_out
    s = SessionProxy::Session.new({ "sess" => { "o" => 1 } })
    s["o"] = { "a" => 1, "b" => nil }
    s["n"] = { "c" => nil, "d" => [nil] }
    assert_equal({ "o" => { "a" => 1 }, "n" => { "d" => [nil] } }, JSON.parse(s.directives[0][1]))
  end
end
