# frozen_string_literal: true

require "json"
require "net/http"
require "openssl"
require "uri"

module SessionProxy
  ISSUER = "sessionproxy"

  # Seconds a token is still accepted after its exp, for clocks that
  # differ a little between the proxy's host and the app's.
  DEFAULT_LEEWAY = 5

  # The largest token JSON nesting read; deeper is malformed, never a
  # crash.
  MAX_NESTING = 512

  # Verifies sessionproxy tokens with one configuration.
  #
  # Build one per app and reuse it: it holds the HS256 secret and the JWKS
  # cache. +secret+ verifies HS256; +jwks_url+ verifies EdDSA and ES256
  # tokens by their kid; give either or both. An empty secret is refused
  # here, never taken as a key.
  #
  # +old_secrets+ are secrets the proxy signed with before token.secret was
  # rotated: tokens they verify are accepted too. +audience+, when set,
  # must be in the token's aud (a string or a list). +leeway+ is in
  # seconds (default 5).
  class Verifier
    attr_reader :audience, :leeway, :issuer, :keyset

    def initialize(secret: nil, old_secrets: nil, jwks_url: nil, audience: nil, leeway: DEFAULT_LEEWAY,
                   issuer: ISSUER, jwks_refetch_interval: 10.0, jwks_max_age: 300.0, jwks_timeout: 5.0,
                   clock: -> { Time.now.to_f })
      raise TypeError, "sessionproxy: secret must be a String" unless secret.nil? || secret.is_a?(String)
      raise ArgumentError, "sessionproxy: the secret is empty; pass token.secret of the proxy" if secret&.empty?
      if secret.nil? && (jwks_url.nil? || jwks_url.empty?)
        raise ArgumentError, "sessionproxy: give a secret (HS256) or a jwks_url (EdDSA, ES256)"
      end

      olds = self.class.old_secrets(old_secrets)
      raise ArgumentError, "sessionproxy: old_secrets needs secret, the proxy's current token.secret" if !olds.empty? && secret.nil?
      raise ArgumentError, "sessionproxy: leeway must not be negative" if leeway.negative?

      @secret = secret&.b
      @old_secrets = olds
      @audience = audience
      @leeway = leeway
      @issuer = issuer
      @clock = clock
      @keyset = jwks_url && !jwks_url.empty? ? KeySet.new(jwks_url, refetch_interval: jwks_refetch_interval, max_age: jwks_max_age, timeout: jwks_timeout) : nil
    end

    def self.old_secrets(list)
      return [] if list.nil?
      raise TypeError, "sessionproxy: old_secrets must be a list of secrets, not one secret" if list.is_a?(String)

      list.each_with_index.map do |old, i|
        raise TypeError, "sessionproxy: old_secrets[#{i}] must be a String" unless old.is_a?(String)
        raise ArgumentError, "sessionproxy: old_secrets[#{i}] is empty" if old.empty?

        old.b
      end
    end

    # The token's claims (a Hash), or raises InvalidToken (or KeySetError
    # when the JWKS cannot be fetched: an outage, not a bad token).
    def verify(token)
      raise InvalidToken.new("malformed", "no token") if !token.is_a?(String) || token.empty?
      raise InvalidToken.new("malformed", "not ASCII") unless token.b.ascii_only?

      parts = token.split(".", -1)
      raise InvalidToken.new("malformed", "not three dot-separated parts") unless parts.length == 3

      begin
        header = parse_json(SessionProxy.b64decode(parts[0]))
        payload_raw = SessionProxy.b64decode(parts[1])
        sig = SessionProxy.b64decode(parts[2])
      rescue ArgumentError, JSON::ParserError, EncodingError
        raise InvalidToken.new("malformed", "a part is not base64url JSON")
      end
      raise InvalidToken.new("malformed", "the header is not a JSON object") unless header.is_a?(Hash)

      alg = header["alg"]
      signed = "#{parts[0]}.#{parts[1]}"
      if alg == "HS256" && @secret
        unless hs256?(@secret, signed, sig) || @old_secrets.any? { |old| hs256?(old, signed, sig) }
          raise InvalidToken.new("signature", "the signature does not match")
        end
      elsif %w[EdDSA ES256].include?(alg) && @keyset
        kid = header["kid"]
        raise InvalidToken.new("kid", "no kid in the header") if !kid.is_a?(String) || kid.empty?

        key = @keyset.get(kid)
        raise InvalidToken.new("kid", "no key with this kid in the JWKS") if key.nil?
        raise InvalidToken.new("alg", "the key #{kid.inspect} is not an #{alg} key") if key[0] != alg
        raise InvalidToken.new("signature", "the signature does not match") unless KeySet.verify(alg, key[1], signed, sig)
      else
        raise InvalidToken.new("alg", "algorithm #{alg.inspect} is not allowed")
      end

      begin
        claims = parse_json(payload_raw)
      rescue JSON::ParserError, EncodingError
        raise InvalidToken.new("malformed", "the payload is not JSON")
      end
      raise InvalidToken.new("malformed", "the payload is not a JSON object") unless claims.is_a?(Hash)

      exp = claims["exp"]
      raise InvalidToken.new("malformed", "exp is missing or not a number") unless exp.is_a?(Numeric) && exp.finite?
      raise InvalidToken.new("expired", "the token has expired") if exp + @leeway < @clock.call
      raise InvalidToken.new("issuer", "the issuer is not #{@issuer.inspect}") if claims["iss"] != @issuer
      if @audience && !audience?(claims["aud"])
        raise InvalidToken.new("audience", "the token is not for audience #{@audience.inspect}")
      end
      raise InvalidToken.new("malformed", "sess is missing or not a JSON object") unless claims["sess"].is_a?(Hash)

      claims
    end

    private

    def parse_json(bytes)
      text = bytes.dup.force_encoding(Encoding::UTF_8)
      raise JSON::ParserError, "not UTF-8" unless text.valid_encoding?

      JSON.parse(text, max_nesting: MAX_NESTING, allow_nan: false, create_additions: false)
    end

    def hs256?(secret, signed, sig)
      mac = OpenSSL::HMAC.digest("SHA256", secret, signed)
      sig.bytesize == mac.bytesize && OpenSSL.fixed_length_secure_compare(mac, sig)
    end

    def audience?(aud)
      case aud
      when String then aud == @audience
      when Array then aud.any? { |a| a.is_a?(String) && a == @audience }
      else false
      end
    end
  end

  B64URL = /\A[A-Za-z0-9_-]*\z/.freeze

  # Decodes unpadded base64url; ArgumentError for anything else.
  def self.b64decode(part)
    raise ArgumentError, "not base64url" unless part.match?(B64URL) && part.length % 4 != 1

    (part.tr("-_", "+/") + "=" * (-part.length % 4)).unpack1("m")
  end

  # Encodes bytes as unpadded base64url.
  def self.b64encode(bytes)
    [bytes].pack("m0").tr("+/", "-_").delete("=")
  end

  # Verifies a single token and returns its claims; raises InvalidToken
  # naming the reason. For JWKS, build a Verifier once instead, so that the
  # keys are cached across requests.
  def self.verify(token, **opts)
    Verifier.new(**opts).verify(token)
  end
end

require_relative "keyset"
