# frozen_string_literal: true

require "json"
require "openssl"
require "securerandom"
require_relative "../sessionproxy"

module SessionProxy
  # Unit-testing an app without the proxy.
  #
  # Testing.mint_token signs a token the way the proxy does;
  # Testing.headers wraps it as a Rack env entry for Rack::MockRequest or
  # Rack::Test; Testing::SessionJar plays the proxy across several requests
  # (keeps the session, applies the directives of each response):
  #
  #   jar = SessionProxy::Testing::SessionJar.new(SECRET)
  #   get "/set", {}, jar.env
  #   jar.apply(last_response.headers)
  #   assert_equal "john doe", jar.data["user"]["name"]
  module Testing
    UNSET = Object.new.freeze
    private_constant :UNSET

    module_function

    # A random session id shaped like the proxy's (16 bytes, base64url).
    def new_sid
      SessionProxy.b64encode(SecureRandom.bytes(16))
    end

    # The registered claims (RFC 7519) mint_token takes as keywords beside
    # its own; any other keyword is a session key.
    CLAIM_KEYWORDS = %i[exp nbf jti sub].freeze

    # An HS256 token as the proxy would sign it. +sess+ is the session data
    # (default {}), given as a Hash or as the trailing keywords:
    # mint_token(SECRET, user: { name: "jo" }) and
    # mint_token(SECRET, "user" => { "name" => "jo" }) both give the session
    # {"user" => {"name" => "jo"}}. +sid+ defaults to a random id (pass nil
    # for the koa cookie format, which has none); +new+ defaults to true
    # when the session is empty. exp:, nbf:, jti: and sub: are claims
    # (exp: 0 for an expired token); +claims+ adds any other claim.
    def mint_token(secret, sess = nil, sid: UNSET, new: nil, ttl: 60, iat: nil, audience: nil, issuer: ISSUER, claims: {},
                   **rest)
      raise ArgumentError, "sessionproxy/testing: the secret is empty" if secret.nil? || secret.empty?

      # Ruby 3 passes a trailing Hash written without braces as keywords,
      # whatever its keys: the session, but for the registered claims.
      extra, data = rest.partition { |k, _| CLAIM_KEYWORDS.include?(k) }.map(&:to_h)
      unless data.empty?
        unless sess.nil?
          raise ArgumentError, "sessionproxy/testing: the session is given twice, as a Hash and as keywords " \
                               "(#{data.keys.map(&:inspect).join(", ")}); give it once, or other claims in claims:"
        end

        sess = data.transform_keys(&:to_s)
      end
      extra = extra.merge(claims)
      now = iat || Time.now.to_i
      claims = {}
      sid = new_sid if sid.equal?(UNSET)
      claims["sid"] = sid unless sid.nil?
      claims["sess"] = sess || {}
      claims["new"] = new.nil? ? (sess.nil? || sess.empty?) : new
      claims["iss"] = issuer
      claims["iat"] = now
      claims["exp"] = now + ttl.to_i
      claims["aud"] = audience unless audience.nil?
      extra.each { |k, v| claims[k.to_s] = v }
      head = SessionProxy.b64encode(JSON.generate({ "alg" => "HS256", "typ" => "JWT" }))
      body = SessionProxy.b64encode(JSON.generate(claims))
      sig = OpenSSL::HMAC.digest("SHA256", secret, "#{head}.#{body}")
      "#{head}.#{body}.#{SessionProxy.b64encode(sig)}"
    end

    # The Rack env entry carrying a minted token, for Rack::MockRequest
    # and Rack::Test: get "/get", {}, Testing.env(SECRET, "user" => "jo").
    def env(secret, sess = nil, header: HEADER, **kwargs)
      { "HTTP_#{header.upcase.tr("-", "_")}" => mint_token(secret, sess, **kwargs) }
    end

    # The request header carrying a minted token, for an HTTP client.
    def headers(secret, sess = nil, header: HEADER, **kwargs)
      { header => mint_token(secret, sess, **kwargs) }
    end

    # A directive the proxy would answer with 502, applying nothing of the
    # response: #header names it, #reason says what is wrong.
    class DirectiveError < ArgumentError
      attr_reader :header, :reason

      def initialize(header, reason)
        @header = header
        @reason = reason
        super("sessionproxy/testing: #{header}: #{reason}")
      end
    end

    # The proxy's limits (proxy/directive.go): past them a response is 502.
    MAX_DIRECTIVES = 100 # header values
    MAX_DIRECTIVE_BYTES = 1 << 20 # their total length in bytes
    MAX_DEPTH = 32 # nesting of X-Session-Set, the object counting as 1
    SPACE = " \t\n\v\f\r" # what Go's strings.TrimSpace trims of a header value's bytes

    # The session directives in a response's headers, decoded:
    # {"set" => [patch, ...], "destroy" => bool, "destroy_others" => bool,
    # "renew" => bool, "max_age" => ms | "session" | nil}. X-Session-Destroy
    # "all" sets both destroy (this session ends) and destroy_others (the
    # user's other sessions end), "others" only destroy_others. Takes a
    # Rack headers Hash (a value with "\n" is several headers, as Rack 2
    # joins them; an Array value too), or a list of [name, value];
    # +header+ is the proxy's token.header, which names the directives.
    #
    # Raises DirectiveError (an ArgumentError), naming the header, for what
    # the proxy answers with 502: an X-Session-Set that is not a JSON
    # object, nests deeper than 32 or sets a top-level key starting with
    # "_"; a Destroy other than true, 1, others or all; a Renew other than
    # true or 1; a Max-Age that is neither a positive number of
    # milliseconds (at most 100 years) nor "session"; any other header
    # named +header+ + "-..." (or with "_", in any case: a typo such as
    # X-Session-Sett); more than 100 such header values, or more than
    # 1 MiB of them (in bytes, as a Ruby server sends a String's bytes).
    def directives(response_headers, header = HEADER)
      prefix = header.downcase
      own = prefix.tr("_", "-")
      out = { "set" => [], "destroy" => false, "destroy_others" => false, "renew" => false, "max_age" => nil }
      count = size = 0
      header_items(response_headers).each do |name, value|
        lname = name.downcase
        norm = lname.tr("_", "-")
        next if norm != own && !norm.start_with?("#{own}-")

        count += 1
        size += value.bytesize
        raise DirectiveError.new(name, "more than #{MAX_DIRECTIVES} session headers in one response") if count > MAX_DIRECTIVES
        if size > MAX_DIRECTIVE_BYTES
          raise DirectiveError.new(name, "the session headers of one response are longer than #{MAX_DIRECTIVE_BYTES} bytes")
        end

        v = trim(value)
        case lname
        when prefix then nil # the token, echoed back: the proxy drops it
        when "#{prefix}-set" then out["set"] << patch(name, value)
        when "#{prefix}-destroy"
          raise DirectiveError.new(name, "#{value.inspect}: want \"true\", \"1\", \"others\" or \"all\"") unless %w[true 1 others all].include?(v)

          out["destroy"] = true if v != "others"
          out["destroy_others"] = true if %w[others all].include?(v)
        when "#{prefix}-renew"
          raise DirectiveError.new(name, "#{value.inspect}: want \"true\" or \"1\"") unless %w[true 1].include?(v)

          out["renew"] = true
        when "#{prefix}-max-age" then out["max_age"] = max_age(name, value)
        else raise DirectiveError.new(name, "unknown session directive")
        end
      end
      out
    end

    def header_items(h)
      return h.flat_map { |name, value| value.is_a?(Array) ? value.map { |x| [name.to_s, x.to_s] } : [[name.to_s, value.to_s]] } if h.is_a?(Array)

      h.to_hash.flat_map do |name, value|
        values = value.is_a?(Array) ? value : value.to_s.split("\n", -1)
        values = [""] if values.empty?
        values.map { |x| [name.to_s, x.to_s] }
      end
    end

    def trim(value)
      value.b.sub(/\A[#{SPACE}]+/n, "").sub(/[#{SPACE}]+\z/n, "").force_encoding(value.encoding)
    end

    # Whether the JSON text v nests objects and arrays deeper than
    # MAX_DEPTH outside its strings.
    def too_deep?(v)
      depth = 0
      i = 0
      s = v.b
      while i < s.bytesize
        c = s.getbyte(i)
        if c == 34 # "
          i += 1
          i += s.getbyte(i) == 92 ? 2 : 1 while i < s.bytesize && s.getbyte(i) != 34
        elsif c == 123 || c == 91 # { [
          depth += 1
          return true if depth > MAX_DEPTH
        elsif c == 125 || c == 93 # } ]
          depth -= 1
        end
        i += 1
      end
      false
    end

    def patch(name, value)
      raise DirectiveError.new(name, "want a JSON object: objects and arrays nested deeper than #{MAX_DEPTH}") if too_deep?(value)

      begin
        text = value.dup.force_encoding(Encoding::UTF_8)
        text = text.scrub unless text.valid_encoding?
        patch = JSON.parse(text, allow_nan: false, max_nesting: false, create_additions: false)
      rescue JSON::ParserError => e
        raise DirectiveError.new(name, "want a JSON object: #{e.message.lines.first&.strip}")
      end
      raise DirectiveError.new(name, "want a JSON object: not a JSON object") unless patch.is_a?(Hash)

      patch.each_key do |k|
        if k.start_with?("_")
          raise DirectiveError.new(name, "top-level key #{JSON.generate(k)}: keys starting with \"_\" are " \
                                         "reserved for the proxy's bookkeeping")
        end
      end
      patch
    end

    def max_age(name, value)
      v = trim(value)
      return v if v == "session"

      digits = v.start_with?("+", "-") ? v[1..] : v
      if !v.start_with?("-") && digits.match?(/\A[0-9]+\z/) && digits.sub(/\A0+/, "").length <= 13 &&
         digits.to_i.positive? && digits.to_i <= MAX_AGE_LIMIT
        return digits.to_i
      end

      raise DirectiveError.new(name, "#{value.inspect}: want a positive number of milliseconds (at most 100 years) or \"session\"")
    end

    # Plays the proxy for a test: holds a session across requests. #env
    # (or #headers) gives a fresh token of the current session; #apply
    # applies a response's directives as the proxy would (merge patch,
    # destroy, renew, max age), and gives the next token the proxy's id: a
    # new one after a destroy or a renew of a saved session, and after
    # every response while the session is unsaved (#new), as the proxy
    # keeps no empty new session to remember its id.
    class SessionJar
      attr_accessor :data, :sid, :new, :max_age
      attr_reader :secret, :header, :audience

      def initialize(secret, data = nil, header: HEADER, audience: nil)
        @secret = secret
        @header = header
        @audience = audience
        @data = Patch.deep_copy(data || {})
        @sid = Testing.new_sid
        @new = @data.empty?
        @max_age = nil
      end

      def token
        Testing.mint_token(@secret, @data, sid: @sid, new: @new, audience: @audience)
      end

      # The Rack env entry with a fresh token, for Rack::MockRequest and Rack::Test.
      def env
        { "HTTP_#{@header.upcase.tr("-", "_")}" => token }
      end

      # The request header with a fresh token, for an HTTP client.
      def headers
        { @header => token }
      end

      # Applies the directives of one response (its headers); returns them
      # decoded. Nothing is applied when one is malformed: DirectiveError.
      # The user's other sessions, which destroy_others ends, are not in
      # the jar: for them, assert on what this returns.
      def apply(response_headers)
        d = Testing.directives(response_headers, @header)
        renewed = d["renew"] && !@new # a new session saved keeps its id
        if d["destroy"]
          @data = {}
          @new = true
        end
        d["set"].each { |p| @data = Patch.merge_patch(@data, p) }
        @max_age = d["max_age"] unless d["max_age"].nil?
        # The proxy saves a new session (a destroy's successor too) only
        # when the response leaves it with data, renews it or gives it a
        # max age; a destroy without a set or a max age only ends it.
        ended = d["destroy"] && d["set"].empty? && d["max_age"].nil?
        @new = false if !ended && (!@data.empty? || d["renew"] || !d["max_age"].nil?)
        # Nothing remembers the id of a session the proxy left unsaved: the
        # next request starts another. A jar without one (sid nil: the koa
        # cookie format with the cookie store) never gets one.
        @sid = Testing.new_sid if !@sid.nil? && (d["destroy"] || renewed || @new)
        d
      end
    end
  end
end
