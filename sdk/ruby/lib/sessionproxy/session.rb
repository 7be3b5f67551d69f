# frozen_string_literal: true

require_relative "errors"
require_relative "patch"

module SessionProxy
  # The token's request header; the directives are named after it
  # (X-Session-Set, X-Session-Destroy, X-Session-Renew, X-Session-Max-Age),
  # as the proxy's token.header names both.
  HEADER = "X-Session"

  # Where the app's top-level keys that start with "_" are kept. The proxy
  # reserves "_" keys for its own bookkeeping (as koa-session does) and
  # answers 502 to a change that names one, while Rails keeps its CSRF
  # token in "_csrf_token": so "_csrf_token" is stored as
  # "ruby:_csrf_token" and read back as "_csrf_token". An app in another
  # language sharing the session sees the stored name.
  PRIVATE_PREFIX = "ruby:"

  # The proxy's bound on X-Session-Max-Age, in milliseconds (100 years).
  MAX_AGE_LIMIT = 100 * 365 * 24 * 3600 * 1000

  # Validates a max age: "session", or milliseconds from 1 to 100 years,
  # the proxy's range. A Float is taken as whole milliseconds.
  def self.check_max_age(value)
    return "session" if value == "session"
    unless (value.is_a?(Integer) || value.is_a?(Float)) && value >= 1 && value <= MAX_AGE_LIMIT
      raise ArgumentError, "sessionproxy: max_age must be milliseconds from 1 to 100 years or \"session\", not #{value.inspect}"
    end

    value.to_i
  end

  # The session an app sees in env["rack.session"]: a Hash-like object
  # with the API of Rack's own session (Rack::Session::Abstract::SessionHash),
  # which Sinatra's +session+ and Rails' +session+ use.
  #
  # Keys are Strings; a Symbol key is its name, as in Rack's sessions.
  # session[k] = v, delete, update, nested changes (session["cart"] << x)
  # all reach the proxy as the smallest merge patch; setting a key to nil
  # deletes it. #destroy (also options[:drop] = true, and a #clear that
  # leaves the session empty) drops the session; #regenerate (also
  # options[:renew] = true) gives it a new id; #max_age= (also
  # options[:expire_after] = seconds) sets its lifetime; #destroy_others
  # and #destroy_all end the user's other sessions. #id, #new? and #claims
  # tell what the proxy sent.
  class Session
    include Enumerable

    # +options+ is the request's session options (Rack's
    # env["rack.session.options"]); with +env+, they are read from there
    # each time instead.
    def initialize(claims = nil, header: HEADER, options: {}, env: nil)
      @header = header
      @claims = claims || {}
      @verified = !claims.nil?
      sess = @claims["sess"].is_a?(Hash) ? @claims["sess"] : {}
      @data = from_stored(Patch.deep_copy(sess))
      @before = to_stored(Patch.deep_copy(@data))
      @options = options
      @env = env
      @destroyed = @destroy_others = @renew = @cleared = @sealed = false
      @max_age = nil
      @sent = nil
      @accessed = false
    end

    # True once the app read or changed the session: the response then
    # depends on the cookie and gets Vary: Cookie.
    def accessed?
      @accessed
    end

    # True when the request carried a valid token; without one (a request
    # let through with required: false) the session is empty and read-only.
    def verified?
      @verified
    end

    # The token's claims, as the proxy sent them.
    def claims
      @accessed = true
      @claims
    end

    # The session id (the sid claim); nil in the koa cookie format or
    # without a token.
    def id
      @accessed = true
      @claims["sid"]
    end

    # True when the session did not exist before this request.
    def new?
      @accessed = true
      @verified ? @claims.fetch("new", false) == true : true
    end
    alias is_new new?

    # Rack's SessionHash API: whether the session existed before this request.
    def exists?
      !new?
    end

    # Rack's SessionHash API: true once the app used the session, as
    # Rack's sessions load on first use. Rails' flash asks a loaded
    # session whether it holds "flash" after every action: true from the
    # start, that read would give every page Vary: Cookie.
    def loaded?
      @accessed
    end

    # Rack's SessionHash API: the request's session options, read from
    # env["rack.session.options"] each time, as Rack's and Rails' sessions
    # read them: an app may put a new Hash there (Rails'
    # request.session_options = { skip: true }, which protect_from_forgery
    # with: :null_session does to a request it refuses), and the
    # directives follow it.
    def options
      return @options if @env.nil?

      opts = @env[OPTIONS_KEY]
      opts.respond_to?(:key?) ? opts : {}
    end

    # Rails asks a session whether it is enabled.
    def enabled?
      true
    end

    # Reading.

    def [](key)
      @accessed = true
      @data[key_of(key)]
    end

    def fetch(key, *default, &block)
      @accessed = true
      @data.fetch(key_of(key), *default, &block)
    end

    def dig(key, *keys)
      @accessed = true
      @data.dig(key_of(key), *keys)
    end

    def key?(key)
      @accessed = true
      @data.key?(key_of(key))
    end
    alias has_key? key?
    alias include? key?
    alias member? key?

    def each(&block)
      @accessed = true
      return enum_for(:each) unless block

      @data.each(&block)
      self
    end
    alias each_pair each

    def keys
      @accessed = true
      @data.keys
    end

    def values
      @accessed = true
      @data.values
    end

    def empty?
      @accessed = true
      @data.empty?
    end

    def size
      @accessed = true
      @data.size
    end
    alias length size

    # A copy of the data, as Rack's to_hash gives.
    def to_hash
      @accessed = true
      @data.dup
    end
    alias to_h to_hash

    def inspect
      "#<#{self.class.name} #{@data.inspect}>"
    end

    # Changing.

    def []=(key, value)
      k = key_of(key)
      check_reserved(k)
      return if value.nil? && !@verified # removing from the empty session of a request without a token

      check_writable
      @accessed = true
      if value.nil? # nil deletes, as in a merge patch
        @data.delete(k)
      else
        @data[k] = value
      end
    end
    alias store []=

    def delete(key)
      k = key_of(key)
      check_reserved(k)
      return nil unless @verified # nothing to remove without a token (Rails 7's reset_session)

      check_writable
      @accessed = true
      @data.delete(k)
    end

    def update(hash)
      pairs = hash.to_hash.map { |k, v| [key_of(k), v] }
      pairs.each { |k, _| check_reserved(k) }
      check_writable
      pairs.each { |k, v| self[k] = v }
      self
    end
    alias merge! update

    # Rack's replace: the data becomes hash's, the id stays.
    def replace(hash)
      pairs = hash.to_hash.map { |k, v| [key_of(k), v] }
      pairs.each { |k, _| check_reserved(k) }
      check_writable
      @accessed = true
      @data.clear
      pairs.each { |k, v| @data[k] = v unless v.nil? }
      self
    end

    # Removes every key, keeping the id, as Rack's clear does. A session
    # left empty by it at response time is destroyed (its cookie expired),
    # since an empty session is no session: so Sinatra's logout idiom,
    # session.clear, ends the session. Without a token (a request let
    # through with required: false) the session is empty and stays so:
    # clearing it is nothing, as Rack::Protection's drop_session does.
    def clear
      return nil unless @verified

      check_writable
      @accessed = true
      @data.clear
      @cleared = true
      nil
    end

    # Drops the session (X-Session-Destroy: true). A max age or renewal
    # asked for before goes with it; keys (and a max age) set afterwards
    # start a new session with a new id. With #destroy_others in the same
    # request, in either order, the user's other sessions end too.
    # Without a token there is no session to drop (Rails' reset_session on
    # such a request): nothing is done.
    def destroy
      return nil unless @verified

      check_writable
      @accessed = true
      @data.clear
      @destroyed = true
      @max_age = nil
      @renew = false
      nil
    end

    # Ends every other session of this session's user ("log out my other
    # devices"; X-Session-Destroy: others); this one stays, with its
    # changes. Needs the proxy's session.userKey, or it answers 502.
    def destroy_others
      check_writable
      @accessed = true
      @destroy_others = true
      nil
    end

    # Ends this session as #destroy does and every other session of its
    # user ("log out everywhere"; X-Session-Destroy: all).
    def destroy_all
      check_writable
      destroy
      @destroy_others = true
      nil
    end

    # Gives the session a new id, keeping its data (X-Session-Renew). Call
    # it after a login, against session fixation.
    def regenerate
      check_writable
      @accessed = true
      @renew = true
      nil
    end
    alias renew regenerate

    # This session's own lifetime: milliseconds, "session" (a
    # browser-session cookie), or nil (the proxy's default).
    attr_reader :max_age

    def max_age=(value)
      value = SessionProxy.check_max_age(value)
      check_writable
      @accessed = true
      @max_age = value
    end

    # The response headers ([name, value] pairs) that carry this request's
    # changes to the proxy; empty when nothing changed. Raises
    # UnencodableValue for a value JSON cannot carry.
    def directives
      opts = options
      return [] if !@verified || opts[:skip]

      h = @header
      if opts[:drop]
        return [["#{h}-Destroy", @destroy_others ? "all" : "true"]]
      end

      after = to_stored(encodable(@data))
      max_age = @max_age.nil? ? options_max_age(opts) : @max_age
      out = []
      if @destroyed || (@cleared && after.empty?)
        out << ["#{h}-Destroy", @destroy_others ? "all" : "true"]
        data = Patch.strip_nil(after)
        out << ["#{h}-Set", dump(data)] unless data.empty?
        max_age = nil if !@destroyed # a clear that ends the session takes its max age along
      else
        out << ["#{h}-Destroy", "others"] if @destroy_others
        patch = Patch.diff(@before, after)
        out << ["#{h}-Set", dump(patch)] unless patch.empty?
        out << ["#{h}-Renew", "true"] if @renew || opts[:renew]
      end
      out << ["#{h}-Max-Age", max_age.to_s] unless max_age.nil?
      out
    end

    # Returns the directives and refuses any later change: the headers are
    # on their way. A nested change made later is found by
    # #changed_since_sealed?.
    def seal
      headers = directives
      @sealed = true
      @sent = Patch.normalize(@data) if @verified
      headers
    end

    def sealed?
      @sealed
    end

    # True when the data differs from what the directives carried (a
    # nested change made after the headers went out).
    def changed_since_sealed?
      return false if @sent.nil?

      !Patch.same?(Patch.normalize(@data), @sent)
    rescue TypeError
      true
    end

    private

    def key_of(key)
      key.is_a?(Symbol) ? key.name : key.to_s
    end

    def check_reserved(key)
      raise ReservedKeyError, key if key.start_with?("#{PRIVATE_PREFIX}_")
    end

    def check_writable
      unless @verified
        raise Error, "sessionproxy: this request has no session (no valid #{@header} token); it cannot be changed"
      end
      return unless @sealed

      raise SessionSealedError, "sessionproxy: the response's headers were already returned, with the session's " \
                                "directives; this change would be lost"
    end

    # options[:expire_after] (seconds, Rack's unit) as a max age in ms;
    # nil there is a browser-session cookie, as for Rack's cookies.
    def options_max_age(opts)
      return nil unless opts.key?(:expire_after)

      secs = opts[:expire_after]
      return "session" if secs.nil?
      unless secs.is_a?(Numeric) || secs.class.name == "ActiveSupport::Duration"
        raise ArgumentError, "sessionproxy: options[:expire_after] must be seconds or nil, not #{secs.inspect}"
      end

      SessionProxy.check_max_age((secs.to_f * 1000).round)
    end

    def from_stored(data)
      data.each_with_object({}) do |(k, v), out|
        if k.start_with?("#{PRIVATE_PREFIX}_")
          out[k[PRIVATE_PREFIX.length..]] = v
        elsif !k.start_with?("_")
          out[k] = v
        end
      end
    end

    def to_stored(data)
      data.each_with_object({}) { |(k, v), out| out[k.start_with?("_") ? PRIVATE_PREFIX + k : k] = v }
    end

    # The data as JSON carries it, with an error that names the key whose
    # value it cannot carry.
    def encodable(data)
      data.each_with_object({}) do |(k, v), out|
        out[k] = Patch.normalize(v)
      rescue TypeError => e
        raise UnencodableValue.new(k, e.message)
      end
    end

    def dump(data)
      Patch.dump(data)
    rescue JSON::GeneratorError => e
      key = data.keys.find do |k|
        Patch.dump({ k => data[k] })
        false
      rescue JSON::GeneratorError
        true
      end
      raise UnencodableValue.new(key.to_s.delete_prefix(PRIVATE_PREFIX), e.message)
    end
  end
end
