# frozen_string_literal: true

# README's Rails setups in booted Rails 6.1 applications (Debian's
# railties): config/application.rb's lines, the middleware stack Rails
# builds from them, and a controller behind it. A Rails application is
# one per process, and test_rails.rb's controllers load parts of Rails
# that a booted application may lack, so each runs in a child Ruby of
# its own, which prints what its requests got as JSON.
require_relative "helper"
require "open3"
require "rbconfig"
require "tmpdir"

class TestRailsApp < Minitest::Test
  LIB = File.expand_path("../lib", __dir__)

  # What every child runs: an application configured by +setup+ (the
  # README's lines) with a controller of class +base+, and a SessionJar
  # playing the proxy across +paths+.
  CHILD = <<~'RUBY'
    ENV["RAILS_ENV"] = "production"
    require "json"
    require "action_controller/railtie"
    require "sessionproxy"
    require "sessionproxy/testing"
    require "rack/mock"

    setup, base, paths, secret = JSON.parse($stdin.read)
    app = Class.new(Rails::Application) do
      config.load_defaults 6.1
      config.root = Dir.pwd
      config.eager_load = true
      config.cache_classes = true
      config.logger = ActiveSupport::Logger.new($stderr)
      config.log_level = :fatal
      config.secret_key_base = "k" * 64
      ENV["UPSTREAM_SECRET"] = secret
      class_eval(setup)
    end
    Object.const_set(:ChildApp, app)
    controller = Class.new(Object.const_get(base)) do
      def set
        session[:user_id] = params[:id]
        render plain: "set"
      end

      def notice
        flash[:notice] = "saved"
        render plain: "noticed"
      end

      def show
        render plain: "#{session[:user_id]}|#{respond_to?(:flash) ? flash[:notice] : "-"}"
      end

      def logout
        reset_session
        render plain: "logged out"
      end
    end
    Object.const_set(:ThingsController, controller)
    Rails.application.initialize!
    Rails.application.routes.draw do
      get ":action", controller: "things"
    end

    jar = SessionProxy::Testing::SessionJar.new(secret)
    m = Rack::MockRequest.new(Rails.application)
    out = paths.map do |path|
      res = m.get(path, jar.env)
      jar.apply(res.headers)
      [path, res.status, res.status == 500 ? "" : res.body, jar.data]
    end
    puts JSON.generate("stack" => Rails.application.middleware.map(&:name), "requests" => out)
  RUBY

  # Runs the child; one that has not ended after a minute is killed, by
  # its pid.
  def boot(setup, base, paths)
    Open3.popen2e(RbConfig.ruby, "-I", LIB, "-e", CHILD, chdir: Dir.tmpdir) do |stdin, out, wait|
      stdin.write(JSON.generate([setup, base, paths, SECRET]))
      stdin.close
      reader = Thread.new { out.read }
      unless wait.join(60)
        Process.kill("KILL", wait.pid)
        flunk "the application did not end within a minute:\n#{reader.value}"
      end
      output = reader.value
      assert wait.value.success?, "the application did not run:\n#{output}"
      JSON.parse(output.lines.last)
    end
  end

  README_SETUP = <<~RUBY
    config.session_store :disabled
    config.middleware.insert_before ActionDispatch::Cookies, SessionProxy::Rack,
                                    secret: ENV.fetch("UPSTREAM_SECRET")
    config.middleware.insert_after ActionDispatch::Cookies, ActionDispatch::Flash
  RUBY

  def test_the_readme_setup
    got = boot(README_SETUP, "ActionController::Base", %w[/set?id=7 /show /notice /show /show /logout /show])
    stack = got["stack"]
    assert_operator stack.index("SessionProxy::Rack"), :<, stack.index("ActionDispatch::Cookies")
    refute_includes stack, "ActionDispatch::Session::CookieStore"
    assert_equal [
      ["/set?id=7", 200, "set", { "user_id" => "7" }],
      ["/show", 200, "7|", { "user_id" => "7" }],
      ["/notice", 200, "noticed", { "user_id" => "7", "flash" => { "discard" => [], "flashes" => { "notice" => "saved" } } }],
      ["/show", 200, "7|saved", { "user_id" => "7" }],
      ["/show", 200, "7|", { "user_id" => "7" }],
      ["/logout", 200, "logged out", {}],
      ["/show", 200, "|", {}],
    ], got["requests"]
  end

  # Without ActionDispatch::Flash, which Rails adds only with a session
  # store, flash is undefined: the README's third line is needed.
  def test_without_the_flash_middleware_flash_fails
    setup = README_SETUP.lines.reject { |l| l.include?("ActionDispatch::Flash") }.join
    got = boot(setup, "ActionController::Base", %w[/set?id=7 /notice])
    assert_equal [["/set?id=7", 200, "set", { "user_id" => "7" }], ["/notice", 500, "", { "user_id" => "7" }]], got["requests"]
  end

  def test_an_api_only_app
    setup = <<~RUBY
      config.api_only = true
      config.middleware.use SessionProxy::Rack, secret: ENV.fetch("UPSTREAM_SECRET")
    RUBY
    got = boot(setup, "ActionController::API", %w[/set?id=7 /show /logout /show])
    refute_includes got["stack"], "ActionDispatch::Cookies"
    assert_equal [
      ["/set?id=7", 200, "set", { "user_id" => "7" }],
      ["/show", 200, "7|-", { "user_id" => "7" }],
      ["/logout", 200, "logged out", {}],
      ["/show", 200, "|-", {}],
    ], got["requests"]
  end
end
