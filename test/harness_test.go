// Package test holds sessionproxy's black-box tests: they build the real
// binary once, run it with a generated config in front of real upstream
// processes on loopback, and check what a user sees.
package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sessionproxy/sessionproxy/internal/testenv"
)

// Secrets the black-box tests configure; nothing real.
const (
	testKey    = "test-key-one-0123456789abcdef0123456789"
	testKey2   = "test-key-two-0123456789abcdef0123456789"
	testSecret = "test-upstream-secret-0123456789abcdef"
)

// binary is the sessionproxy binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionproxy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionproxy")
	build := exec.Command("go", "build", "-o", binary, "../cmd/sessionproxy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sessionproxy:", err)
		os.Exit(1)
	}
	code := m.Run()
	if shared.proc != nil {
		shared.proc.stop(nil)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool fails in CI, and skips elsewhere, when a program is missing.
var requireTool = testenv.RequireTool

// process is a program a test started; it is stopped by its own PID when
// the test ends.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder // stdout and stderr, for failure messages
	done chan struct{}
	err  error
}

// Output returns everything the process printed so far.
func (p *process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitOutput waits up to 5 s for the process to print s.
func (p *process) waitOutput(t testing.TB, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.Output(), s) {
			return
		}
	}
	t.Errorf("%s never printed %q; it printed:\n%s", p.cmd.Path, s, p.Output())
}

// startProcess runs name with args and waits until a line of its output
// matches ready; it returns the process and the match's submatches. The
// process is stopped when the test ends.
func startProcess(t testing.TB, ready *regexp.Regexp, env []string, name string, args ...string) (*process, []string) {
	t.Helper()
	p, m, err := launch(ready, env, name, args...)
	if p != nil {
		t.Cleanup(func() { p.stop(t) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

// readyTimeout bounds a process's start-up; generous, because a loaded
// 2-core machine runs many tests side by side.
const readyTimeout = 60 * time.Second

// launch is startProcess without a test: the caller stops the process.
func launch(ready *regexp.Regexp, env []string, name string, args ...string) (*process, []string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	testenv.DieWithParent(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	read := make(chan struct{}) // closed once every line is in p.out
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-read // so that after done, Output has the last lines too
		close(p.done)
	}()
	matched := make(chan []string, 1)
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		waiting := matched // nil once the ready line is found; matched itself is the caller's
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if m := ready.FindStringSubmatch(line); m != nil && waiting != nil {
				waiting <- m
				waiting = nil
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case m := <-matched:
		return p, m, nil
	case <-p.done:
		return p, nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, p.err, p.Output())
	case <-time.After(readyTimeout):
		return p, nil, fmt.Errorf("%s not ready after %v:\n%s", name, readyTimeout, p.Output())
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (p *process) stop(t testing.TB) {
	if !testenv.Stop(p.cmd.Process, p.done, 10*time.Second) && t != nil {
		t.Errorf("%s did not stop on SIGTERM within 10s", p.cmd.Path)
	}
}

var listeningOn = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// shared is the Python test upstream most tests share: it is stateless
// (the session travels in the token), and one process instead of one per
// test keeps a 2-core machine from spending its time starting Pythons.
var shared struct {
	once sync.Once
	url  string
	proc *process
	err  error
}

// startUpstream returns the base URL of the shared Python test upstream
// (the Flask example plus test routes), starting it on first use. TestMain
// stops it.
func startUpstream(t testing.TB) string {
	t.Helper()
	python := pythonPath(t)
	shared.once.Do(func() {
		var m []string
		shared.proc, m, shared.err = launch(listeningOn, []string{"UPSTREAM_SECRET=" + testSecret}, python, "upstream/app.py", "--port", "0")
		if shared.err == nil {
			shared.url = "http://" + m[1]
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.url
}

// startUpstreamProcess starts a test upstream of the test's own, to read
// its output or stop it.
func startUpstreamProcess(t testing.TB) (string, *process) {
	t.Helper()
	p, m := startProcess(t, listeningOn, []string{"UPSTREAM_SECRET=" + testSecret}, pythonPath(t), "upstream/app.py", "--port", "0")
	return "http://" + m[1], p
}

// pythonPath returns the interpreter the Python upstreams run with: $PYTHON
// (test/run.sh sets it), else the virtual environment sdk/python/test.sh
// makes with the pinned frameworks, else python3; the real one, past any
// version-manager shim, which costs a shell start per process.
func pythonPath(t testing.TB) string {
	t.Helper()
	python := os.Getenv("PYTHON")
	if venv, err := filepath.Abs(filepath.Join("..", "sdk", "python", ".venv", "bin", "python")); python == "" && err == nil {
		if _, err := os.Stat(venv); err == nil {
			python = venv
		}
	}
	if python == "" {
		python = requireTool(t, "python3")
	}
	resolvedPython.once.Do(func() {
		resolvedPython.path = python
		out, err := exec.Command(python, "-c", "import sys; print(sys.executable)").Output()
		if p := string(bytes.TrimSpace(out)); err == nil && p != "" {
			resolvedPython.path = p
		}
	})
	return resolvedPython.path
}

var resolvedPython struct {
	once sync.Once
	path string
}

// config is a sessionproxy config under construction, as YAML values.
type config map[string]any

// baseConfig returns a config for a proxy in front of upstream on free
// loopback ports, with the test keys.
func baseConfig(upstream string) config {
	return config{
		"listen":   "127.0.0.1:0",
		"upstream": upstream,
		"keys":     []string{testKey},
		"token":    map[string]any{"secret": testSecret},
		"admin":    map[string]any{"listen": "127.0.0.1:0"},
		"log":      map[string]any{"level": "debug"},
	}
}

// set sets the value at a dotted path such as "session.maxAge".
func (c config) set(path string, v any) config {
	m := map[string]any(c)
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return c
}

// write writes the config to a file in a temporary directory.
func (c config) write(t testing.TB) string {
	t.Helper()
	b, err := yaml.Marshal(map[string]any(c))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sessionproxy.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// proxy is a running sessionproxy.
type proxy struct {
	*process
	URL   string // public listener, http://127.0.0.1:port
	Admin string // admin listener
}

var proxyListening = regexp.MustCompile(`"msg":"listening".*"listen":"([^"]+)".*"admin":"([^"]+)"`)

// startProxy runs sessionproxy with cfg and waits for its listeners.
func startProxy(t testing.TB, cfg config) *proxy {
	t.Helper()
	p, m := startProcess(t, proxyListening, nil, binary, "-config", cfg.write(t))
	return &proxy{process: p, URL: "http://" + m[1], Admin: "http://" + m[2]}
}

// newClient returns an HTTP client with a cookie jar, like a browser.
func newClient(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second}
}

// get sends a GET and returns the response with its body read.
func get(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

// echo is what the test upstream's /echo route reports.
type echo struct {
	Session     map[string]any    `json:"session"`
	Claims      map[string]any    `json:"claims"`
	Headers     map[string]string `json:"headers"`
	EnvironKeys []string          `json:"environ_keys"`
}

// getEcho GETs an /echo URL, expects 200, and decodes the report.
func getEcho(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, echo) {
	t.Helper()
	resp, body := get(t, c, url, header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %q", url, resp.StatusCode, body)
	}
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("GET %s: decoding %q: %v", url, body, err)
	}
	return resp, e
}

// sessionCookies returns the Set-Cookie headers of resp that set the
// session cookie (or its signature).
func sessionCookies(resp *http.Response, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name || c.Name == name+".sig" {
			out = append(out, c)
		}
	}
	return out
}
