# frozen_string_literal: true

require_relative "session"
require_relative "token"

module SessionProxy
  # Where the session is in the Rack env, as Rack's own session
  # middlewares put it: Sinatra's +session+, Rack::Request#session and
  # Rails' +session+ read it there.
  ENV_KEY = "rack.session"
  OPTIONS_KEY = "rack.session.options"
  # Where the InvalidToken (or KeySetError) is, for a request let through
  # without a session.
  ERROR_KEY = "sessionproxy.error"

  # Rack middleware that gives the app the proxy's session in
  # env["rack.session"]:
  #
  #   use SessionProxy::Rack, secret: ENV.fetch("UPSTREAM_SECRET")
  #
  # Options: +secret+ (the proxy's token.secret, HS256; empty is refused),
  # +old_secrets+, +jwks_url+ (EdDSA, ES256), +audience+, +leeway+
  # (seconds, default 5), +header+ (default "X-Session", the proxy's
  # token.header; the directives are named after it), +required+ (true:
  # 401 without a valid token, 503 when the JWKS cannot be fetched; false,
  # or a proc of the env returning false, lets the request through with
  # an empty, read-only session and the error in env["sessionproxy.error"]),
  # +verifier+ (a SessionProxy::Verifier to share), and the Verifier's
  # +jwks_refetch_interval+, +jwks_max_age+, +jwks_timeout+ (seconds).
  #
  # The directives are written into the response headers when the app
  # returns: a change made afterwards (while the body streams) raises
  # SessionSealedError, and a nested change found when the body ends
  # raises it from the body's #each or #close.
  class Rack
    def initialize(app, secret: nil, old_secrets: nil, jwks_url: nil, audience: nil, leeway: DEFAULT_LEEWAY,
                   header: HEADER, required: true, verifier: nil, **jwks_options)
      @app = app
      @verifier = verifier || Verifier.new(secret: secret, old_secrets: old_secrets, jwks_url: jwks_url,
                                           audience: audience, leeway: leeway, **jwks_options)
      @header = header
      @env_header = "HTTP_#{header.upcase.tr("-", "_")}"
      @directive_names = %w[Set Destroy Renew Max-Age].map { |d| "#{header}-#{d}".downcase }
      @required = required
    end

    attr_reader :verifier

    def call(env)
      begin
        claims = @verifier.verify(env[@env_header])
      rescue InvalidToken, KeySetError => e
        required = @required.respond_to?(:call) ? @required.call(env) : @required
        return refuse(env, e, 503, "503 Service Unavailable: the session keys are unavailable\n") if required && e.is_a?(KeySetError)
        return refuse(env, e, 401, "401 Unauthorized: no valid session token\n") if required

        env[OPTIONS_KEY] = {}
        env[ENV_KEY] = Session.new(nil, header: @header, env: env)
        env[ERROR_KEY] = e
        return @app.call(env)
      end

      env[OPTIONS_KEY] = {}
      session = Session.new(claims, header: @header, env: env)
      env[ENV_KEY] = session
      status, headers, body = @app.call(env)
      begin
        directives = session.seal
      rescue StandardError
        body.close if body.respond_to?(:close)
        raise
      end
      headers = headers.frozen? ? headers.dup : headers
      headers.keys.each { |k| headers.delete(k) if own?(k) } # set by hand, they would undo the session's changes
      directives.each { |name, value| headers[name.downcase] = value }
      vary_cookie(headers) if session.accessed?
      # Rack 3: a body with #each is iterated, one with only #call is
      # handed the stream; the wrapper answers to the same one.
      wrapped = !body.respond_to?(:each) && body.respond_to?(:call) ? StreamingBody : Body
      [status, headers, wrapped.new(body, session)]
    end

    private

    def own?(name)
      @directive_names.include?(name.to_s.downcase)
    end

    # Cookie in the response's Vary: a response that read the session
    # depends on the cookie, as with Rack's and Rails' own sessions, and a
    # shared cache would otherwise hand one visitor's page to another.
    def vary_cookie(headers)
      key = headers.keys.find { |k| k.to_s.casecmp?("vary") }
      if key.nil?
        headers["vary"] = "Cookie"
      else
        value = headers[key]
        values = value.is_a?(Array) ? value : [value] # Rack 3 allows a list of values
        fields = values.flat_map { |v| v.to_s.split(/[,\n]/) }.map { |f| f.strip.downcase }
        return if fields.include?("cookie") || fields.include?("*")

        headers[key] = value.is_a?(Array) ? value + ["Cookie"] : "#{value}, Cookie"
      end
    end

    # The client is not told why; the log is, as the Go and Python
    # libraries log it (info for a bad token, where a secret or audience
    # that differs from the proxy's shows; error for a JWKS outage): in
    # env["rack.logger"] when the app has one (Rack::Logger, Sinatra's
    # logging), else as a line in env["rack.errors"], the server's log.
    def refuse(env, error, status, text)
      line = "sessionproxy: #{env["REQUEST_METHOD"]} #{env["PATH_INFO"]} refused with #{status}: #{error.message}"
      if (logger = env["rack.logger"])
        status == 503 ? logger.error(line) : logger.info(line)
      elsif (errors = env["rack.errors"])
        errors.puts(line)
      end
      [status, { "content-type" => "text/plain; charset=utf-8", "content-length" => text.bytesize.to_s }, [text]]
    end

    # A response body, passed through; when it ends, a change the headers
    # did not carry raises SessionSealedError, so a lost change is never
    # silent. #close reaches the wrapped body's, and makes the check when
    # the body was not iterated (a HEAD request, a file sent as it is).
    class Body
      def initialize(body, session)
        @body = body
        @session = session
        @checked = false
        @closed = false
      end

      def each(&block)
        @body.each(&block)
        check
      end

      def close
        return if @closed

        @closed = true
        @body.close if @body.respond_to?(:close)
      ensure
        check
      end

      def respond_to_missing?(name, include_all = false)
        @body.respond_to?(name, include_all)
      end

      # #to_ary (when the body has it) reads the body whole, as Rack 3's
      # Rack::ETag and Rack::ContentLength do (they skip a body without
      # it), and closes it, as Rack 3 asks: whoever called it will not.
      def method_missing(name, *args, &block)
        return @body.__send__(name, *args, &block) unless name == :to_ary && @body.respond_to?(:to_ary)

        begin
          @body.to_ary
        ensure
          close
        end
      end

      private

      def check
        return if @checked

        @checked = true
        return unless @session.changed_since_sealed?

        raise SessionSealedError, "sessionproxy: the session changed after the response's headers were " \
                                  "returned; the change is lost"
      end
    end

    # A Rack 3 streaming body (#call(stream), no #each), passed through;
    # the check is made when #call returns, and on #close.
    class StreamingBody < Body
      undef_method :each

      def call(stream)
        @body.call(stream)
        check
      end
    end
  end
end
