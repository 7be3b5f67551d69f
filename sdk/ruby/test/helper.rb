# frozen_string_literal: true

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)

require "json"
require "minitest/autorun"
require "openssl"
require "socket"
require "sessionproxy"
require "sessionproxy/testing"

TESTDATA = File.expand_path("../../testdata", __dir__)
SECRET = "test-secret-0123456789abcdef0123456789"

def load_testdata(name)
  JSON.parse(File.read(File.join(TESTDATA, name), encoding: "UTF-8"))
end

# A real HTTP server on a free loopback port, in this process, serving
# whatever the block returns for each request ([status, body]); #stop
# closes it and joins its thread. For JWKS.
class LocalServer
  attr_reader :url, :hits

  def initialize(&handler)
    @handler = handler
    @server = TCPServer.new("127.0.0.1", 0)
    @url = "http://127.0.0.1:#{@server.addr[1]}/.well-known/jwks.json"
    @hits = 0
    @lock = Mutex.new
    @thread = Thread.new { serve }
  end

  def stop
    @server.close
    @thread.join
  end

  private

  def serve
    loop do
      client = begin
        @server.accept
      rescue IOError, Errno::EBADF
        return
      end
      Thread.new(client) { |c| answer(c) }
    end
  end

  def answer(client)
    while (line = client.gets) && line != "\r\n"; end
    @lock.synchronize { @hits += 1 }
    status, body, headers = @handler.call
    extra = (headers || {}).map { |k, v| "#{k}: #{v}\r\n" }.join
    client.write("HTTP/1.1 #{status} X\r\nContent-Type: application/json\r\nContent-Length: #{body.bytesize}\r\n#{extra}Connection: close\r\n\r\n#{body}")
  rescue IOError, SystemCallError
    nil
  ensure
    client.close
  end
end

# Signing keys as the proxy's token.signingKeys, and their JWKs.
module Keys
  module_function

  def ed25519
    OpenSSL::PKey.generate_key("ED25519")
  end

  def p256
    OpenSSL::PKey::EC.generate("prime256v1")
  end

  def jwk(key, kid)
    if key.oid == "ED25519"
      x = key.public_to_der[-32..]
      { "kty" => "OKP", "crv" => "Ed25519", "x" => SessionProxy.b64encode(x), "use" => "sig", "alg" => "EdDSA", "kid" => kid }
    else
      point = key.public_key.to_octet_string(:uncompressed)
      { "kty" => "EC", "crv" => "P-256", "x" => SessionProxy.b64encode(point[1, 32]), "y" => SessionProxy.b64encode(point[33, 32]),
        "use" => "sig", "alg" => "ES256", "kid" => kid }
    end
  end

  # A token signed with key as the proxy signs it.
  def mint(key, kid, sess = {}, exp: Time.now.to_i + 60, **claims)
    alg = key.oid == "ED25519" ? "EdDSA" : "ES256"
    head = SessionProxy.b64encode(JSON.generate({ "alg" => alg, "typ" => "JWT", "kid" => kid }))
    body = SessionProxy.b64encode(JSON.generate({ "sid" => "s1", "sess" => sess, "new" => false, "iss" => "sessionproxy",
                                                  "iat" => Time.now.to_i, "exp" => exp }.merge(claims)))
    signed = "#{head}.#{body}"
    sig = if alg == "EdDSA"
            key.sign(nil, signed)
          else
            der = OpenSSL::ASN1.decode(key.sign("SHA256", signed))
            der.value.map { |i| i.value.to_s(2).rjust(32, "\x00".b) }.join
          end
    "#{signed}.#{SessionProxy.b64encode(sig)}"
  end
end
