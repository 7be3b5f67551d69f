# frozen_string_literal: true

require "json"
require "net/http"
require "openssl"
require "uri"

module SessionProxy
  # Public keys fetched from a JWKS URL (the proxy's
  # /.well-known/jwks.json), cached by kid.
  #
  # An unknown kid refetches the set at once (a key rotation), but at most
  # once per +refetch_interval+ seconds, so a flood of tokens with made-up
  # ids does not become a flood of fetches. A set older than +max_age+ is
  # refetched in the background on the next use: a known kid never waits
  # for the JWKS (nor for one that hangs), and if that fetch fails the old
  # keys are kept. Until a first fetch succeeds, fetches are retried at
  # most once per +refetch_interval+ (counted from the failure) and
  # KeySetError is raised; so it is for an unknown kid while the last fetch
  # failed less than +refetch_interval+ ago (the key may have been
  # published: an outage, not a bad token). One fetch runs at a time; a
  # request that needs one waits for the one under way.
  class KeySet
    # The largest JWKS read: a key set is a few hundred bytes.
    MAX_BYTES = 1 << 20
    # The most redirects a fetch follows, as Java's HttpClient does (Go,
    # Python and Node follow more): a JWKS URL that redirects works in
    # every library.
    MAX_REDIRECTS = 5

    attr_reader :url, :fetches

    def initialize(url, refetch_interval: 10.0, max_age: 300.0, timeout: 5.0, now: -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) })
      @url = URI(url)
      raise ArgumentError, "sessionproxy: jwks_url must be an http or https URL" unless %w[http https].include?(@url.scheme)

      @refetch_interval = refetch_interval
      @max_age = max_age
      @timeout = timeout
      @now = now
      @lock = Mutex.new
      @done = ConditionVariable.new
      @keys = {}
      @loaded = false
      @fetched = nil       # @now of the last fetch's start
      @failed_at = nil     # @now of the last failed fetch, until one succeeds
      @unknown_refetch = nil
      @error = ""
      @inflight = false
      @generation = 0      # counts finished fetches
      @fetches = 0
    end

    # [alg, key] for kid, nil when the set has no such key; raises
    # KeySetError when the set cannot be had.
    def get(kid)
      @lock.synchronize do
        now = @now.call
        wait = false
        if !@loaded
          wait = true if @inflight || start_fetch_due?(now) && start(now)
        elsif now - @fetched >= @max_age
          start(now) # in the background: the keys held verify meanwhile
          wait = !@keys.key?(kid)
        elsif !@keys.key?(kid)
          failed_lately = @failed_at && now - @failed_at < @refetch_interval
          if @inflight
            wait = true
          elsif (@unknown_refetch.nil? || now - @unknown_refetch >= @refetch_interval) && !failed_lately
            @unknown_refetch = now
            start(now)
            wait = true
          end
        end
        asked = @generation
        @done.wait(@lock, @timeout + 1) while wait && @inflight && @generation == asked
        raise KeySetError, "sessionproxy: the JWKS #{@url} is unavailable: #{@error}" unless @loaded

        key = @keys[kid]
        if key.nil? && @failed_at && (@generation != asked || @now.call - @failed_at < @refetch_interval)
          raise KeySetError, "sessionproxy: the JWKS #{@url} is unavailable, and kid #{kid.inspect} is not among the keys held: #{@error}"
        end

        key
      end
    end

    # Whether sig is alg's signature of signed by key.
    def self.verify(alg, key, signed, sig)
      if alg == "EdDSA"
        key.verify(nil, sig, signed)
      else # ES256: the JWS signature is r || s, 32 bytes each
        return false unless sig.bytesize == 64

        der = OpenSSL::ASN1::Sequence([OpenSSL::ASN1::Integer(OpenSSL::BN.new(sig[0, 32], 2)),
                                       OpenSSL::ASN1::Integer(OpenSSL::BN.new(sig[32, 32], 2))]).to_der
        key.verify("SHA256", der, signed)
      end
    rescue OpenSSL::PKey::PKeyError
      false
    end

    # [alg, public key] for a usable signing key of a JWKS, else nil.
    def self.parse_jwk(jwk)
      return nil unless jwk.is_a?(Hash) && jwk["kid"].is_a?(String)
      return nil unless jwk.fetch("use", "sig") == "sig"

      if jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519" && jwk.fetch("alg", "EdDSA") == "EdDSA"
        x = SessionProxy.b64decode(jwk["x"].to_str)
        return nil unless x.bytesize == 32

        ["EdDSA", OpenSSL::PKey.read(ED25519_SPKI + x)]
      elsif jwk["kty"] == "EC" && jwk["crv"] == "P-256" && jwk.fetch("alg", "ES256") == "ES256"
        x = coordinate(jwk["x"])
        y = coordinate(jwk["y"])
        return nil unless x && y

        ["ES256", OpenSSL::PKey.read(P256_SPKI + "\x04".b + x + y)]
      end
    rescue ArgumentError, NoMethodError, OpenSSL::PKey::PKeyError
      nil
    end

    # The DER of a SubjectPublicKeyInfo up to its key bytes.
    ED25519_SPKI = ["302a300506032b6570032100"].pack("H*").freeze
    P256_SPKI = ["3059301306072a8648ce3d020106082a8648ce3d030107034200"].pack("H*").freeze

    def self.coordinate(v)
      b = SessionProxy.b64decode(v.to_str)
      b = b.sub(/\A\x00+/n, "") if b.bytesize > 32
      b.bytesize <= 32 ? ("\x00".b * (32 - b.bytesize)) + b : nil
    end

    private

    def start_fetch_due?(now)
      @fetches.zero? || now - @fetched >= @refetch_interval
    end

    # Starts a fetch unless one is under way; the lock is held.
    def start(now)
      return true if @inflight

      @inflight = true
      @fetched = now
      @fetches += 1
      Thread.new { refresh }.tap { |t| t.report_on_exception = false }
      true
    end

    def refresh
      keys = {}
      doc = JSON.parse(http_get, max_nesting: MAX_NESTING)
      raise ArgumentError, '"keys" is not a list' unless doc.is_a?(Hash) && doc["keys"].is_a?(Array)

      doc["keys"].each do |jwk|
        key = KeySet.parse_jwk(jwk)
        keys[jwk["kid"]] = key if key
      end
      @lock.synchronize do
        @keys = keys
        @loaded = true
        @failed_at = nil
        finish
      end
    rescue StandardError => e
      @lock.synchronize do
        @error = e.message.empty? ? e.class.name : e.message
        @failed_at = @now.call
        # An old set's refresh tries again after the interval, not max_age;
        # before a first success the interval counts from this failure.
        @fetched = @loaded ? [@fetched, @failed_at - @max_age + @refetch_interval].min : @failed_at
        finish
      end
    end

    def finish
      @inflight = false
      @generation += 1
      @done.broadcast
    end

    def http_get
      url = @url
      (MAX_REDIRECTS + 1).times do
        body, location = http_get_once(url)
        return body if location.nil?

        target = url + location
        unless %w[http https].include?(target.scheme) && !(url.scheme == "https" && target.scheme == "http")
          raise ArgumentError, "a redirect to #{target.scheme}: is not followed"
        end

        url = target
      end
      raise ArgumentError, "more than #{MAX_REDIRECTS} redirects"
    end

    # [body, nil] of one GET of url, or [nil, location] for a redirect.
    def http_get_once(url)
      http = Net::HTTP.new(url.host, url.port)
      http.use_ssl = url.scheme == "https"
      http.open_timeout = http.read_timeout = @timeout
      http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
      http.max_retries = 0 # Net::HTTP retries a GET that timed out: the wait would double
      body = +""
      http.start do
        req = Net::HTTP::Get.new(url.request_uri, "Accept" => "application/json")
        http.request(req) do |res|
          return [nil, res["location"]] if res.is_a?(Net::HTTPRedirection) && res["location"]
          raise ArgumentError, "status #{res.code}" unless res.is_a?(Net::HTTPSuccess)

          res.read_body do |chunk|
            body << chunk
            raise ArgumentError, "the JWKS is larger than #{MAX_BYTES} bytes" if body.bytesize > MAX_BYTES
          end
        end
      end
      [body.force_encoding(Encoding::UTF_8), nil]
    end
  end
end
