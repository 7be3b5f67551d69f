# frozen_string_literal: true

# Testing.directives refuses exactly what the proxy answers with 502, and
# reads what it applies, and SessionJar gives the session the proxy keeps,
# case by case from sdk/testdata/directives.json, the table
# test/sdk_directives_test.go holds the real proxy to.
require_relative "helper"

class TestDirectives < Minitest::Test
  Testing = SessionProxy::Testing
  TABLE = load_testdata("directives.json")

  # A case's header lines, the last one repeated and <pad> filled in.
  def lines(c)
    pad = c.fetch("pad_with", "x") * c.fetch("pad", 0)
    c["headers"].each_with_index.flat_map do |(name, value), i|
      n = i == c["headers"].length - 1 ? c.fetch("repeat", 1) : 1
      [[name, value.gsub("<pad>", pad)]] * n
    end
  end

  # A Rack 2 headers Hash: a repeated name's values joined by "\n".
  def rack_hash(c)
    lines(c).each_with_object({}) { |(n, v), h| h[n] = h.key?(n) ? "#{h[n]}\n#{v}" : v }
  end

  def check(c, headers)
    before = c.fetch("before", TABLE["before"])
    jar = Testing::SessionJar.new("s", before)
    sid = jar.sid
    if c["want"]
      want = c["want"].dup
      session = want.delete("session")
      want_new = want.delete("new")
      new_id = want.delete("id") == "new"
      assert_equal want, Testing.directives(headers), c["name"]
      jar.apply(headers)
      assert_equal session, jar.data, c["name"]
      assert_equal want_new, jar.new, "#{c["name"]}: the next token's new"
      assert_equal new_id, jar.sid != sid, "#{c["name"]}: the next token's id"
      return
    end
    assert_raises(Testing::DirectiveError, c["name"]) { jar.apply(headers) }
    assert_equal [before, sid], [jar.data, jar.sid], "#{c["name"]}: nothing of the response applied"
    err = assert_raises(Testing::DirectiveError, c["name"]) { Testing.directives(headers) }
    assert_kind_of ArgumentError, err
    assert_equal c["error"].downcase, err.header.downcase, c["name"] if c["error"]
    assert_match(/\Asessionproxy\/testing: #{Regexp.escape(err.header)}: /, err.message)
  end

  def test_cases
    refute_empty TABLE["cases"]
    TABLE["cases"].each { |c| check(c, lines(c)) }
  end

  def test_cases_in_a_rack_headers_hash
    TABLE["cases"].each do |c|
      next if lines(c).map(&:first).uniq.length != lines(c).map(&:first).map(&:downcase).uniq.length

      check(c, rack_hash(c))
    end
  end

  def test_named_after_the_header
    h = [["X-App-Session-Renew", "true"], ["X-Session-Set", '{"_a":1}']]
    assert Testing.directives(h, "X-App-Session")["renew"]
    err = assert_raises(Testing::DirectiveError) { Testing.directives(h + [["X-App-Session-Destroy", "nope"]], "X-App-Session") }
    assert_equal "X-App-Session-Destroy", err.header
  end

  # A Ruby server writes a String's bytes: UTF-8, so 1 MiB of them may be
  # fewer characters, and is refused as the proxy refuses it.
  def test_bytes_as_a_ruby_server_sends_them
    Testing.directives([["X-Session-Renew", "1"], ["X-Session", "x" * ((1 << 20) - 1)]])
    err = assert_raises(Testing::DirectiveError) do
      Testing.directives([["X-Session-Renew", "1"], ["X-Session", "\u00e9" * (1 << 19)]])
    end
    assert_equal "X-Session", err.header
  end

  def test_jar_refuses_as_the_proxy
    jar = Testing::SessionJar.new("s", { "a" => 1 })
    assert_raises(Testing::DirectiveError) { jar.apply([["X-Session-Set", '{"b":2}'], ["X-Session-Destroy", "yes"]]) }
    assert_equal({ "a" => 1 }, jar.data, "nothing of the response applied")
  end

  # The koa cookie format with the cookie store gives no sid: a jar set up
  # that way (sid nil) never draws one, as the proxy never sends one.
  def test_jar_in_the_koa_format_keeps_no_id
    jar = Testing::SessionJar.new("s")
    jar.sid = nil
    [[], [["X-Session-Renew", "true"]], [["X-Session-Set", '{"a":1}']], [["X-Session-Renew", "true"]],
     [["X-Session-Destroy", "true"]]].each do |headers|
      jar.apply(headers)
      assert_nil jar.sid, headers.inspect
      refute SessionProxy.verify(jar.token, secret: "s").key?("sid")
    end
  end
end
