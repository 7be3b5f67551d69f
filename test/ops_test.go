package test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/redistest"
)

// scrape GETs the admin listener's /metrics and returns every sample,
// keyed by its series as written (`name{label="v"}`).
func scrape(t *testing.T, p *proxy) map[string]float64 {
	t.Helper()
	resp, body := get(t, http.DefaultClient, p.Admin+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, body)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// TestMetricsCountWhatHappened runs the seed flow, a tampered cookie and
// a malformed directive, and checks the admin listener's /metrics counted
// each; and that the access log has a line per request without the
// cookie or the session id.
func TestMetricsCountWhatHappened(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	before := scrape(t, p)
	seedFlow(t, p)

	// A tampered cookie: a real one with a character changed.
	c := newClient(t)
	resp, _ := get(t, c, p.URL+"/set")
	cookie := sessionCookies(resp, "koa.sess")[0].Value
	_, e := getEcho(t, c, p.URL+"/echo")
	sid, _ := e.Claims["sid"].(string)
	if sid == "" {
		t.Fatalf("no sid in the claims: %v", e.Claims)
	}
	tampered := cookie[:10] + string(cookie[10]^1) + cookie[11:]
	if _, e := getEcho(t, newClient(t), p.URL+"/echo", "Cookie: koa.sess="+tampered); e.Claims["new"] != true {
		t.Fatalf("a tampered cookie gave a session: %v", e.Claims)
	}
	// A malformed directive.
	if resp, _ := get(t, newClient(t), p.URL+"/echo?destroy=maybe"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("malformed directive: status %d, want 502", resp.StatusCode)
	}

	after := scrape(t, p)
	tests := []struct {
		series string
		moved  float64 // how much it must have grown
	}{
		{`sessionproxy_sessions_created_total`, 2}, // the seed flow's and the tampering client's
		{`sessionproxy_sessions_renewed_total`, 1},
		{`sessionproxy_sessions_destroyed_total`, 1},
		{`sessionproxy_cookies_rejected_total{reason="tampered"}`, 1},
		{`sessionproxy_directive_errors_total{directive="destroy"}`, 1},
		{`sessionproxy_upstream_errors_total{kind="directive"}`, 1},
		{`sessionproxy_http_requests_total{code="502",method="GET"}`, 1},
		{`sessionproxy_http_requests_total{code="200",method="GET"}`, 10},
		{`sessionproxy_http_request_duration_seconds_count`, 12},
	}
	for _, tt := range tests {
		t.Run(tt.series, func(t *testing.T) {
			if _, ok := after[tt.series]; !ok {
				t.Fatalf("/metrics has no %s", tt.series)
			}
			if got := after[tt.series] - before[tt.series]; got < tt.moved {
				t.Errorf("%s grew by %v, want at least %v", tt.series, got, tt.moved)
			}
		})
	}
	if after[`sessionproxy_build_info{goversion="`+goVersion(t)+`",version="dev"}`] != 1 {
		t.Errorf("no sessionproxy_build_info for this build in /metrics")
	}

	// Access lines are buffered for up to 100 ms; wait for the last one.
	p.waitOutput(t, `"msg":"request","method":"GET","path":"/echo","status":502`)
	out := p.Output()
	if n := strings.Count(out, `"msg":"request"`); n < 13 {
		t.Errorf("%d access-log lines, want one per request (13)", n)
	}
	if !strings.Contains(out, `"msg":"request","method":"GET","path":"/echo","status":502`) {
		t.Errorf("no access-log line for the 502:\n%s", out)
	}
	for name, secret := range map[string]string{"the cookie": cookie, "the session id": sid, "the key": testKey} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %s", name)
		}
	}
}

func goVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestPublicListenerServesOnlyTheApp: the proxy's own endpoints live on
// the admin listener; on the public one the same paths reach the app.
func TestPublicListenerServesOnlyTheApp(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)))
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, newClient(t), p.URL+path)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "sessionproxy_") || strings.Contains(body, "# TYPE") {
				t.Errorf("public %s: %d %q, want the app's 404", path, resp.StatusCode, body)
			}
			resp, body = get(t, http.DefaultClient, p.Admin+path)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("admin %s: %d %q, want 200", path, resp.StatusCode, body)
			}
		})
	}
}

// TestPprofHeapProfileSamples: with admin.pprof on, the heap profile
// the admin listener serves is sampled (the proxy turns heap profiling
// off only when nobody can read it).
func TestPprofHeapProfileSamples(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(startUpstream(t)).set("admin.pprof", true))
	get(t, newClient(t), p.URL+"/")
	resp, body := get(t, http.DefaultClient, p.Admin+"/debug/pprof/heap?debug=1")
	// "heap profile: 3: 1024 [40: 98304] @ heap/1048576": the last
	// number is twice the sampling rate, 0 when sampling is off.
	first, _, _ := strings.Cut(body, "\n")
	_, rate, ok := strings.Cut(first, "@ heap/")
	if resp.StatusCode != http.StatusOK || !ok || rate == "0" {
		t.Errorf("heap profile: %d %q, want 200 and a sampling rate", resp.StatusCode, first)
	}
}

// response is what getInBackground got.
type response struct {
	status int
	body   string
	err    error
}

// getInBackground GETs url with c while the test goes on; the response
// arrives on the channel once its body has been read.
func getInBackground(c *http.Client, url string) <-chan response {
	done := make(chan response, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			done <- response{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- response{resp.StatusCode, string(b), err}
	}()
	return done
}

// TestSIGTERMLetsInFlightRequestsFinish sends SIGTERM while a slow request
// is in flight: the request completes and the process exits 0.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	upstream, up := startUpstreamProcess(t)
	p := startProxy(t, baseConfig(upstream))

	done := getInBackground(http.DefaultClient, p.URL+"/slow?ms=1500&id=graceful")
	up.waitOutput(t, "slow request started: graceful")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.status != http.StatusOK || r.body != "slow done" {
		t.Errorf("in-flight request: %d %q %v, want 200 \"slow done\"", r.status, r.body, r.err)
	}
	if err := waitExit(t, p); err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0\n%s", err, p.Output())
	}
	if !strings.Contains(p.Output(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" log line:\n%s", p.Output())
	}
}

// TestShutdownTimeoutCutsSlowRequests: past server.shutdownTimeout the
// proxy stops anyway, and says so with a non-zero exit. The request it
// cuts is answered 503 and has its access-log line, as every request has.
func TestShutdownTimeoutCutsSlowRequests(t *testing.T) {
	t.Parallel()
	upstream, up := startUpstreamProcess(t)
	p := startProxy(t, baseConfig(upstream).set("server.shutdownTimeout", "200ms"))

	done := getInBackground(http.DefaultClient, p.URL+"/slow?ms=5000&id=cut")
	up.waitOutput(t, "slow request started: cut")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wantCut(t, p, done, "/slow")
}

// wantCut waits for p, sent SIGTERM, to exit 1 naming
// server.shutdownTimeout, and checks that the request to path it had in
// flight was answered 503 and has its access-log line.
func wantCut(t *testing.T, p *proxy, done <-chan response, path string) {
	t.Helper()
	err := waitExit(t, p)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", err)
	}
	if !strings.Contains(p.Output(), "server.shutdownTimeout") {
		t.Errorf("the exit does not name server.shutdownTimeout:\n%s", p.Output())
	}
	if r := <-done; r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") {
		t.Errorf("the request past the deadline: %d %q %v, want 503 saying the proxy is shutting down", r.status, r.body, r.err)
	}
	if !regexp.MustCompile(`"msg":"request","method":"GET","path":"` + regexp.QuoteMeta(path) + `","status":503,`).MatchString(p.Output()) {
		t.Errorf("no access-log line with status 503 for the request cut:\n%s", p.Output())
	}
}

// TestShutdownTimeoutCutsRequestsWaitingForRedis: a request waiting on a
// stuck Redis at server.shutdownTimeout is cut as one waiting on its
// upstream is: answered 503 at the deadline, with its access-log line,
// not left to store.redis.timeout and then closed unanswered.
func TestShutdownTimeoutCutsRequestsWaitingForRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := startProxy(t, redisConfig(startUpstream(t), srv.Addr).
		set("store.redis.timeout", "20s").
		set("server.shutdownTimeout", "200ms"))
	c := newClient(t)
	get(t, c, p.URL+"/set")

	srv.Pause(t)
	t.Cleanup(func() { srv.Resume(t) })
	done := getInBackground(c, p.URL+"/get")
	time.Sleep(300 * time.Millisecond) // the request is waiting for Redis
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wantCut(t, p, done, "/get")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the proxy took %v to stop, want about server.shutdownTimeout (200ms)", took)
	}
}

// SIGTERM drains the admin listener as it drains the public one: an
// admin request in flight (a CPU profile here; a scrape or a DELETE
// /sessions alike) completes within server.shutdownTimeout, and past it
// is cut as the public requests are.
func TestSIGTERMLetsAdminRequestsFinish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, timeout string
		finishes      bool
	}{
		{"within the timeout", "10s", true},
		{"past the timeout", "300ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, baseConfig("http://127.0.0.1:1").set("admin.pprof", true).set("server.shutdownTimeout", tc.timeout))
			type result struct {
				status int
				n      int
				err    error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := http.Get(p.Admin + "/debug/pprof/profile?seconds=2")
				if err != nil {
					done <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				done <- result{resp.StatusCode, len(b), err}
			}()
			time.Sleep(500 * time.Millisecond) // the profile has begun
			start := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			r := <-done
			err := waitExit(t, p)
			if tc.finishes {
				if r.err != nil || r.status != http.StatusOK || r.n == 0 {
					t.Errorf("the admin request in flight: %d, %d bytes, %v; want 200 and a profile", r.status, r.n, r.err)
				}
				if err != nil {
					t.Errorf("exit: %v, want 0\n%s", err, p.Output())
				}
				return
			}
			if r.err == nil && r.status == http.StatusOK {
				t.Errorf("the admin request completed although the shutdown deadline had passed")
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			if d := time.Since(start); d > time.Second+300*time.Millisecond+500*time.Millisecond {
				t.Errorf("the proxy took %v to exit, past server.shutdownTimeout and the second the cut requests get", d)
			}
		})
	}
}

// SIGTERM leaves an open WebSocket working until its client closes it,
// within server.shutdownTimeout, and the proxy then exits 0: Go's
// Shutdown does not wait for a hijacked connection, so the proxy does.
func TestSIGTERMWaitsForWebSockets(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(echoUpgradeUpstream(t)).set("server.shutdownTimeout", "10s"))

	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	echo := func(msg string) error {
		if _, err := io.WriteString(conn, msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil {
			return err
		}
		if string(got) != msg {
			return fmt.Errorf("echoed %q, want %q", got, msg)
		}
		return nil
	}
	if err := echo("before"); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, `"msg":"shutting down"`)
	time.Sleep(200 * time.Millisecond) // the HTTP server has shut down by now
	if err := echo("during the shutdown"); err != nil {
		t.Errorf("the WebSocket was cut by SIGTERM: %v", err)
	}
	select {
	case <-p.done:
		t.Fatalf("the proxy exited with a WebSocket open:\n%s", p.Output())
	default:
	}
	conn.Close()
	if err := waitExit(t, p); err != nil {
		t.Errorf("exit after the WebSocket closed: %v, want 0\n%s", err, p.Output())
	}
}

// Past server.shutdownTimeout an open WebSocket is cut too, and logged
// with the 101 it got, before the proxy exits 1.
func TestShutdownTimeoutCutsWebSockets(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig(echoUpgradeUpstream(t)).set("server.shutdownTimeout", "300ms"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = waitExit(t, p)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", err)
	}
	if !strings.Contains(p.Output(), `"msg":"request","method":"GET","path":"/ws","status":101,`) {
		t.Errorf("no access-log line for the WebSocket cut:\n%s", p.Output())
	}
}

// A failure after the config is loaded (here a port in use) is the log's
// last line, in the log's format: a JSON log stays JSON to its end.
func TestAFatalErrorIsLoggedInTheLogsFormat(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := baseConfig("http://127.0.0.1:1").set("listen", l.Addr().String())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "-config", cfg.write(t)).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("a start on a port in use: %v, want exit status 1\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Errorf("a line is not JSON: %q", line)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `"level":"ERROR"`) || !strings.Contains(last, "address already in use") {
		t.Errorf("the last line %q, want the error", last)
	}
}

// A second SIGTERM during the graceful shutdown stops the process at once.
func TestASecondSIGTERMStopsAtOnce(t *testing.T) {
	t.Parallel()
	upstream, up := startUpstreamProcess(t)
	p := startProxy(t, baseConfig(upstream).set("server.shutdownTimeout", "30s"))
	go func() {
		if resp, err := http.Get(p.URL + "/slow?ms=20000&id=second"); err == nil {
			resp.Body.Close()
		}
	}()
	up.waitOutput(t, "slow request started: second")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, `"msg":"shutting down"`)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := waitExit(t, p) // within 10 s, not the 30 s of the timeout
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Errorf("exit after a second SIGTERM: %v, want killed by it", err)
	}
}

// waitExit waits up to 10 s for p to exit and returns its exit error.
func waitExit(t *testing.T, p *proxy) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		t.Fatalf("the proxy did not exit within 10s of SIGTERM:\n%s", p.Output())
		return nil
	}
}

// TestConfiguredLimits: the server and upstream limits come from the
// config.
func TestConfiguredLimits(t *testing.T) {
	t.Parallel()
	upstream := startUpstream(t)
	p := startProxy(t, baseConfig(upstream).
		set("upstreamTimeouts.responseHeader", "300ms").
		set("server.maxHeaderBytes", 4096))

	t.Run("upstreamTimeouts.responseHeader", func(t *testing.T) {
		before := scrape(t, p)[`sessionproxy_upstream_errors_total{kind="timeout"}`]
		resp, body := get(t, newClient(t), p.URL+"/slow?ms=5000&id=timeout")
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("upstream slower than responseHeader: %d %q, want 504", resp.StatusCode, body)
		}
		if after := scrape(t, p)[`sessionproxy_upstream_errors_total{kind="timeout"}`]; after != before+1 {
			t.Errorf("upstream timeouts counted %v → %v, want one more", before, after)
		}
	})
	t.Run("server.maxHeaderBytes", func(t *testing.T) {
		resp, _ := get(t, newClient(t), p.URL+"/get", "X-Big: "+strings.Repeat("a", 16<<10))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("16 KiB of headers over a 4 KiB limit: %d, want 431", resp.StatusCode)
		}
		if resp, _ := get(t, newClient(t), p.URL+"/get", "X-Small: "+strings.Repeat("a", 1<<10)); resp.StatusCode != http.StatusNoContent {
			t.Errorf("1 KiB of headers: %d, want the app's 204", resp.StatusCode)
		}
	})
}

func TestAccessLogOff(t *testing.T) {
	t.Parallel()
	p := startProxy(t, baseConfig("http://127.0.0.1:1").set("log.access", false))
	if resp, _ := get(t, newClient(t), p.URL+"/get"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	// A second request's error line comes after any access line of the
	// first, so once it is there the first one's would be too.
	get(t, newClient(t), p.URL+"/second")
	p.waitOutput(t, `"path":"/second"`) // the error log stays on
	if strings.Contains(p.Output(), `"msg":"request"`) {
		t.Errorf("log.access: false still wrote an access line:\n%s", p.Output())
	}
}

// echoUpgradeUpstream starts an upstream that answers an "Upgrade: echo"
// request with 101 and then echoes what it reads until either side
// closes, and returns its URL.
func echoUpgradeUpstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		io.Copy(conn, rw)
	}))
	t.Cleanup(up.Close)
	return up.URL
}
