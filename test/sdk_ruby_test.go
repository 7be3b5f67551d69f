package test

import (
	"net/http"
	"path/filepath"
	"strings"
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

// TestRubyCrossSitePostDropsTheSession: Sinatra's Rack::Protection stops
// a POST whose Origin is another site's by dropping its session, as it
// does with enable :sessions; the example uses it after SessionProxy::Rack
// (sdk/ruby/README.md), where the session is there to drop: through the
// real proxy, which keeps the browser's Host, a POST from the proxy's own
// origin keeps the session and one from another site ends it. It runs
// before any route (the example has no POST route: 404 either way).
func TestRubyCrossSitePostDropsTheSession(t *testing.T) {
	t.Parallel()
	up := startSinatraExample(t, nil)
	p := startProxy(t, baseConfig(up).set("store.type", "memory"))
	c := newClient(t)
	post := func(origin string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.URL+"/get", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST /get from %s: status %d, want 404", origin, resp.StatusCode)
		}
	}
	wantGet(t, c, p.URL+"/set", http.StatusOK, "session set")
	post(p.URL)
	wantGet(t, c, p.URL+"/get", http.StatusOK, johnDoe)
	post("http://evil.example")
	wantGet(t, c, p.URL+"/get", http.StatusNoContent, "")
}
