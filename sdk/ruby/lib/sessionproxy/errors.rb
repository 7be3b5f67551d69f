# frozen_string_literal: true

module SessionProxy
  # Every error this library raises of its own.
  class Error < StandardError; end

  # The token is not a genuine, current sessionproxy token. #reason is one
  # of "malformed", "alg", "kid", "signature", "expired", "issuer",
  # "audience"; the message names it too.
  class InvalidToken < Error
    REASONS = %w[malformed alg kid signature expired issuer audience].freeze

    attr_reader :reason, :detail

    def initialize(reason, detail)
      super("#{reason}: #{detail}")
      @reason = reason
      @detail = detail
    end
  end

  # The JWKS could not be fetched or read: an outage, not a bad token.
  class KeySetError < Error; end

  # The session changed after its directives were written (a change made
  # while the body streams): the change cannot reach the proxy any more.
  class SessionSealedError < Error; end

  # A top-level session key starting with "ruby:_": that is where the
  # library stores the app's "_" keys, so setting one by that name would
  # alias another.
  class ReservedKeyError < Error
    attr_reader :key

    def initialize(key)
      @key = key
      super("sessionproxy: session key #{key.inspect} is reserved: the library stores the app's " \
            "\"_\" keys as #{PRIVATE_PREFIX.inspect} + key (set #{key[PRIVATE_PREFIX.length..].inspect} instead)")
    end
  end

  # A session value JSON cannot carry (a Time, a custom object, a
  # NaN), named by its top-level key.
  class UnencodableValue < TypeError
    attr_reader :key

    def initialize(key, detail)
      @key = key
      super("sessionproxy: session[#{key.inspect}] cannot be sent to the proxy: #{detail}. The session " \
            "holds what JSON holds (Hash, Array, String, Integer, Float, true, false, nil): store a Time " \
            "as its .iso8601, binary data as Base64")
    end
  end
end
