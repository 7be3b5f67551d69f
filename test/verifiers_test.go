package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exampleUpstream is one of the example apps that verify the proxy's
// token themselves (or through sdk/): how to run it, without the secret.
// (TestAppLibraries runs the same examples through the proxy.)
type exampleUpstream struct {
	name string
	cmd  func(t *testing.T) (env []string, name string, args []string)
	// ready is the line it prints once it listens; nil is listeningOn.
	ready *regexp.Regexp
	// perRequest: a script its server runs per request (php -S), which
	// starts without a secret and must then answer every request 500.
	perRequest bool
}

func exampleUpstreams() []exampleUpstream {
	python := func(script string) func(t *testing.T) ([]string, string, []string) {
		return func(t *testing.T) ([]string, string, []string) {
			sdk, err := filepath.Abs("../sdk/python")
			if err != nil {
				t.Fatal(err)
			}
			return []string{"PYTHONPATH=" + sdk}, pythonPath(t), []string{script, "--port", "0"}
		}
	}
	node := func(name string) func(t *testing.T) ([]string, string, []string) {
		return func(t *testing.T) ([]string, string, []string) {
			n := requireTool(t, "node")
			if _, err := os.Stat("../examples/" + name + "/node_modules/sessionproxy/package.json"); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("examples/%s has no node_modules (sdk/node/test.sh runs npm ci): %v", name, err)
				}
				t.Skipf("examples/%s has no node_modules; run sdk/node/test.sh", name)
			}
			return nil, n, []string{"../examples/" + name + "/app.js", "0"}
		}
	}
	return []exampleUpstream{
		{name: "examples/flask", cmd: python("../examples/flask/app.py")},
		{name: "examples/wsgi", cmd: python("../examples/wsgi/app.py")},
		{name: "examples/fastapi", cmd: python("../examples/fastapi/app.py")},
		{name: "examples/django", cmd: python("../examples/django/app.py")},
		{name: "test/upstream", cmd: python("upstream/app.py")},
		{name: "examples/java", cmd: func(t *testing.T) ([]string, string, []string) {
			return nil, requireTool(t, "java"), []string{"../examples/java/SessionApp.java", "--port", "0"}
		}},
		{name: "examples/java-servlet", cmd: func(t *testing.T) ([]string, string, []string) {
			name, args := javaServletCommand(t)
			return nil, name, args
		}},
		{name: "sdk/go/example", cmd: func(t *testing.T) ([]string, string, []string) {
			bin := filepath.Join(t.TempDir(), "example")
			build := exec.Command("go", "build", "-o", bin, "./example")
			build.Dir = filepath.Join("..", "sdk", "go")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build ./example in sdk/go: %v\n%s", err, out)
			}
			return nil, bin, []string{"-port", "0"}
		}},
		{name: "examples/koa", cmd: node("koa")},
		{name: "examples/express", cmd: node("express")},
		{name: "examples/fastify", cmd: node("fastify")},
		{name: "examples/sinatra", cmd: func(t *testing.T) ([]string, string, []string) {
			lib, err := filepath.Abs("../sdk/ruby/lib")
			if err != nil {
				t.Fatal(err)
			}
			return []string{"RUBYLIB=" + lib}, requireTool(t, "ruby"), []string{"../examples/sinatra/app.rb", "--port", "0"}
		}},
		{name: "examples/rails", cmd: func(t *testing.T) ([]string, string, []string) {
			lib, err := filepath.Abs("../sdk/ruby/lib")
			if err != nil {
				t.Fatal(err)
			}
			return []string{"RUBYLIB=" + lib}, requireTool(t, "ruby"), []string{"../examples/rails/app.rb", "--port", "0"}
		}},
		{name: "examples/php", cmd: func(t *testing.T) ([]string, string, []string) {
			return nil, requireTool(t, "php"), []string{"-S", "127.0.0.1:0", "../examples/php/app.php"}
		}, ready: phpServing, perRequest: true},
	}
}

// TestExampleVerifiersRefuseNoSecretAndMalformedTokens: every example
// upstream refuses to start without UPSTREAM_SECRET (it would otherwise
// accept tokens signed with an empty key; a per-request script answers
// every request 500 instead), and answers 401, never 500, to
// a malformed token, whatever part of it is malformed.
func TestExampleVerifiersRefuseNoSecretAndMalformedTokens(t *testing.T) {
	t.Parallel()
	for _, ex := range exampleUpstreams() {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			env, name, args := ex.cmd(t)
			ready := ex.ready
			if ready == nil {
				ready = listeningOn
			}
			for _, secret := range []string{"unset", ""} {
				e := env
				if secret != "unset" {
					e = append(append([]string(nil), env...), "UPSTREAM_SECRET="+secret)
				}
				what := map[bool]string{true: "unset", false: "empty"}[secret == "unset"]
				p, m, err := launch(ready, e, name, args...)
				switch {
				case err == nil && ex.perRequest:
					t.Cleanup(func() { p.stop(t) })
					// A token signed with the empty key must not open a session.
					resp, body := get(t, &http.Client{Timeout: 15 * time.Second}, "http://"+m[1]+"/get", "X-Session: "+emptyKeyToken())
					if resp.StatusCode != http.StatusInternalServerError {
						t.Errorf("with UPSTREAM_SECRET %s: status %d (%.80q), want 500", what, resp.StatusCode, body)
					}
				case err == nil:
					p.stop(t)
					t.Errorf("started with UPSTREAM_SECRET %s", what)
				case p != nil:
					<-p.done
				}
			}
			_, m := startProcess(t, ready, append(env, "UPSTREAM_SECRET="+testSecret), name, args...)
			up := "http://" + m[1]
			c := &http.Client{Timeout: 15 * time.Second}
			for what, token := range malformedTokens() {
				resp, body := get(t, c, up+"/get", "X-Session: "+token)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("a token whose %s: status %d (%.80q), want 401", what, resp.StatusCode, body)
				}
			}
			// A genuine token with a deeply nested extra claim may be
			// accepted or refused, but never crash the app.
			resp, body := get(t, c, up+"/get", "X-Session: "+deepToken())
			if resp.StatusCode >= 500 {
				t.Errorf("a token with a claim nested 3000 deep: status %d (%.80q), want no server error", resp.StatusCode, body)
			}
		})
	}
}

// malformedTokens are tokens a verifier must refuse without failing: each
// is signed with the right secret, so only its malformed part can refuse
// it.
func malformedTokens() map[string]string {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := time.Now().Add(time.Minute).Unix()
	claims := b64(`{"sid":"x","sess":{},"new":false,"iss":"sessionproxy","iat":1,"exp":` + itoa(exp) + `}`)
	signed := func(header, payload string) string {
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(header + "." + payload))
		return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	hs256 := b64(`{"alg":"HS256","typ":"JWT"}`)
	return map[string]string{
		"header is a JSON list":      signed(b64(`["HS256"]`), claims),
		"header is a string":         signed(b64(`"HS256"`), claims),
		"header is null":             signed(b64(`null`), claims),
		"header is not JSON":         signed(b64(`{alg:HS256`), claims),
		"header is not base64":       signed("!!!", claims),
		"alg is a list":              signed(b64(`{"alg":["HS256"],"typ":"JWT"}`), claims),
		"payload is a JSON list":     signed(hs256, b64(`[1,2]`)),
		"payload is a number":        signed(hs256, b64(`1`)),
		"sess is a list":             signed(hs256, b64(`{"sid":"x","sess":[1],"new":false,"iss":"sessionproxy","iat":1,"exp":`+itoa(exp)+`}`)),
		"exp is a string":            signed(hs256, b64(`{"sid":"x","sess":{},"new":false,"iss":"sessionproxy","iat":1,"exp":"soon"}`)),
		"parts are too many":         signed(hs256, claims) + ".x",
		"signature is not base64url": hs256 + "." + claims + ".***",
	}
}

// emptyKeyToken is a token signed with the empty key, which only a
// verifier that took a missing secret for "" would accept.
func emptyKeyToken() string {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	h, p := b64(`{"alg":"HS256","typ":"JWT"}`), b64(`{"sess":{"user":{"name":"x"}},"new":false,"iss":"sessionproxy","iat":1,"exp":`+
		itoa(time.Now().Add(time.Minute).Unix())+`}`)
	m := hmac.New(sha256.New, nil)
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deepToken is a genuine token with an extra claim nested 3000 deep.
func deepToken() string {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	h, p := b64(`{"alg":"HS256","typ":"JWT"}`), b64(`{"sess":{},"new":true,"iss":"sessionproxy","iat":1,"exp":`+
		itoa(time.Now().Add(time.Minute).Unix())+`,"x":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}`)
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
