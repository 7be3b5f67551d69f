package test

import (
	"net/http"
	"path/filepath"
	"testing"
)

// startSinatraExample runs examples/sinatra/app.rb under WEBrick with
// sdk/ruby on Ruby's load path, as pythonExample runs the Python ones with
// sdk/python on theirs. It needs Debian's ruby, ruby-sinatra and
// ruby-webrick (test/run.sh installs them).
func startSinatraExample(t *testing.T, env []string) string {
	lib, err := filepath.Abs("../sdk/ruby/lib")
	if err != nil {
		t.Fatal(err)
	}
	return startExample(t, append(env, "RUBYLIB="+lib), requireTool(t, "ruby"), "../examples/sinatra/app.rb", "--port", "0")
}

// TestRubyUnderscoreKeysThroughTheProxy: session[:_flash] is a key the
// proxy reserves (it answers 502 to an X-Session-Set naming one); sdk/ruby
// stores it as "ruby:_flash", so a message kept across a redirect survives
// the real proxy and its store, and shows once.
func TestRubyUnderscoreKeysThroughTheProxy(t *testing.T) {
	t.Parallel()
	up := startSinatraExample(t, nil)
	p := startProxy(t, baseConfig(up).set("store.type", "memory"))
	c := newClient(t)
	wantGet(t, c, p.URL+"/flash?msg=saved", http.StatusOK, "flashed")
	wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":["saved"]}`)
	wantGet(t, c, p.URL+"/messages", http.StatusOK, `{"messages":[]}`)
}
