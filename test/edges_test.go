package test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate for 127.0.0.1 and its PEM key,
// named name (its subject's common name).
func selfSigned(t *testing.T, name string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		// Write then rename, as a certificate manager does, so that the
		// proxy never reads half a file.
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsClient returns an HTTP client that trusts roots and speaks HTTP/2
// when the server offers it.
func tlsClient(roots ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
}

// TestTLSWithHTTP2AndCertificateReload: server.tls serves HTTPS with
// HTTP/2, TLS 1.2 at least; the files are read again on SIGHUP, new
// connections get the new certificate and a connection already open goes
// on working.
func TestTLSWithHTTP2AndCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certA, keyA, a := selfSigned(t, "cert A")
	writeFiles(t, dir, map[string][]byte{"cert.pem": certA, "key.pem": keyA})
	p := startProxy(t, baseConfig(startUpstream(t)).
		set("server.tls", map[string]any{"certFile": filepath.Join(dir, "cert.pem"), "keyFile": filepath.Join(dir, "key.pem")}).
		set("session.secure", "auto"))
	base := strings.Replace(p.URL, "http://", "https://", 1)

	old := tlsClient(a)
	resp, body := get(t, old, base+"/set")
	if resp.StatusCode != http.StatusOK || body != "session set" {
		t.Fatalf("GET /set over TLS: %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x, want 1.2 or later", resp.TLS.Version)
	}
	if cs := sessionCookies(resp, "koa.sess"); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("session.secure auto over TLS: cookies %v, want one Secure", resp.Header["Set-Cookie"])
	}
	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(p.URL, "http://"), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}

	// A streamed request on the old connection spans the reload.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base+"/echo", pr)
		resp, err := old.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		done <- err
	}()
	io.WriteString(pw, "part one, ")

	certB, keyB, b := selfSigned(t, "cert B")
	writeFiles(t, dir, map[string][]byte{"cert.pem": certB, "key.pem": keyB})
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, "tls certificate reloaded")

	io.WriteString(pw, "part two")
	pw.Close()
	if err := <-done; err != nil {
		t.Errorf("a request open across the reload failed: %v", err)
	}
	resp, _ = get(t, old, base+"/get")
	if resp.StatusCode != http.StatusNoContent || resp.TLS.PeerCertificates[0].Subject.CommonName != "cert A" {
		t.Errorf("the connection open before the reload: %d, certificate %q; want it going on with cert A", resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	resp, _ = get(t, tlsClient(b), base+"/get")
	if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != "cert B" || resp.ProtoMajor != 2 {
		t.Errorf("a new connection got %q over %s, want cert B over HTTP/2", got, resp.Proto)
	}

	// A broken file leaves the certificate as it is.
	writeFiles(t, dir, map[string][]byte{"key.pem": []byte("not a key")})
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitOutput(t, `"msg":"config reload failed; still serving the previous config"`)
	if !strings.Contains(p.Output(), "tls: server.tls:") {
		t.Errorf("the failed reload does not name server.tls:\n%s", p.Output())
	}
	if resp, _ := get(t, tlsClient(b), base+"/get"); resp.TLS.PeerCertificates[0].Subject.CommonName != "cert B" {
		t.Error("a broken key file replaced the certificate")
	}
}

// TestSecureAutoBehindALoadBalancer: with server.trustedProxies, a
// TLS-terminating load balancer's X-Forwarded-Proto makes the cookie
// Secure; the same header from anyone else does not. Forwarding headers
// from an untrusted client never reach the upstream as sent.
func TestSecureAutoBehindALoadBalancer(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	for _, tc := range []struct {
		name    string
		trusted []string
		secure  bool
	}{
		{"trusted", []string{"127.0.0.1/32"}, true},
		{"untrusted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(up).set("session.secure", "auto").set("session.sameSite", "none")
			if tc.trusted != nil {
				cfg.set("server.trustedProxies", tc.trusted)
			} else {
				cfg.set("session.sameSite", "lax") // none would need a way to be Secure
			}
			p := startProxy(t, cfg)
			resp, _ := get(t, plainClient(), p.URL+"/set", "X-Forwarded-Proto: https")
			if cs := sessionCookies(resp, "koa.sess"); len(cs) != 1 || cs[0].Secure != tc.secure {
				t.Errorf("cookies %v, want one with Secure %v", resp.Header["Set-Cookie"], tc.secure)
			}
			_, e := getEcho(t, plainClient(), p.URL+"/echo",
				"X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9", "True-Client-IP: 203.0.113.9", "X-Forwarded-Proto: https")
			wantIP, wantFor, wantProto := "127.0.0.1", "127.0.0.1", "http"
			if tc.trusted != nil {
				wantIP, wantFor, wantProto = "203.0.113.9", "203.0.113.9, 127.0.0.1", "https"
			}
			if e.Headers["X-Real-Ip"] != wantIP || e.Headers["X-Forwarded-For"] != wantFor || e.Headers["X-Forwarded-Proto"] != wantProto {
				t.Errorf("upstream saw X-Real-Ip %q, X-Forwarded-For %q, X-Forwarded-Proto %q; want %q, %q, %q",
					e.Headers["X-Real-Ip"], e.Headers["X-Forwarded-For"], e.Headers["X-Forwarded-Proto"], wantIP, wantFor, wantProto)
			}
			if got, ok := e.Headers["True-Client-Ip"]; ok == (tc.trusted == nil) {
				t.Errorf("upstream saw True-Client-Ip %q (present %v)", got, ok)
			}
		})
	}
}

func TestCheckRefusesAndWarns(t *testing.T) {
	t.Parallel()
	check := func(cfg config) (string, error) {
		out, err := exec.Command(binary, "-check", "-config", cfg.write(t)).CombinedOutput()
		return string(out), err
	}
	out, err := check(baseConfig("http://127.0.0.1:8080").set("session.sameSite", "none").set("session.secure", "auto"))
	if err == nil || !strings.Contains(out, "session.sameSite") {
		t.Errorf("-check of sameSite none, secure auto, no TLS, no trusted proxy: %v %s; want refused", err, out)
	}
	out, err = check(baseConfig("http://127.0.0.1:8080").set("token.secret", testKey))
	if err == nil || !strings.Contains(out, "token.secret") {
		t.Errorf("-check of token.secret equal to a key: %v %s; want refused", err, out)
	}
	weak := baseConfig("http://127.0.0.1:8080").set("session.format", "koa").set("keys", []string{"a"})
	out, err = check(weak)
	if err != nil || !strings.Contains(out, "warning: keys[0]") || !strings.Contains(out, ": ok") {
		t.Errorf("-check of a koa key of 1 character: %v %s; want ok with a warning", err, out)
	}
	out, err = check(baseConfig("http://127.0.0.1:8080").set("session.format", "koa").set("session.signed", false))
	if err != nil || !strings.Contains(out, "warning: session.signed: false") || !strings.Contains(out, ": ok") {
		t.Errorf("-check of unsigned koa cookies: %v %s; want ok with a warning", err, out)
	}
	// A start reads store.redis.tls.caFile: -check does too.
	out, err = check(redisConfig("http://127.0.0.1:8080", "127.0.0.1:1").set("store.redis.tls.enabled", true).set("store.redis.tls.caFile", "/nonexistent/ca.pem"))
	if err == nil || !strings.Contains(out, "store.redis.tls.caFile") {
		t.Errorf("-check of a missing Redis CA file: %v %s; want refused", err, out)
	}
	p := startProxy(t, weak.set("upstream", "http://127.0.0.1:1"))
	p.waitOutput(t, `"level":"WARN","msg":"weak configuration","problem":"keys[0]: 1 characters`)
}

// slowBodyUpstream counts the requests it is reading and what became of
// their bodies.
type slowBodyUpstream struct {
	mu      sync.Mutex
	reading int
	cut     int
	whole   []string
}

func (u *slowBodyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.reading++
	u.mu.Unlock()
	b, err := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reading--
	if err != nil {
		u.cut++
	} else {
		u.whole = append(u.whole, string(b))
	}
	u.mu.Unlock()
	fmt.Fprintf(w, "got %d bytes", len(b))
}

func (u *slowBodyUpstream) state() (reading, cut int, whole []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reading, u.cut, append([]string(nil), u.whole...)
}

// TestAClientSilentAfterAnEarlyAnswerIsClosed: an app that refuses an
// upload before reading it (a 401, a 413) answers at once; the client
// gets the whole answer, and if it then sends nothing more (or waited
// for a 100 Continue), its connection is closed after
// server.bodyIdleTimeout: Go's server, which reads what is left of a
// body of up to 256 KiB (or a chunked one) before closing, no longer
// holds it for ever.
func TestAClientSilentAfterAnEarlyAnswerIsClosed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // refused: the body is not wanted
		http.Error(w, "no uploads here", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	p := startProxy(t, baseConfig(srv.URL).set("server.bodyIdleTimeout", "1s").set("log.access", false))
	addr := strings.TrimPrefix(p.URL, "http://")
	for _, tc := range []struct{ name, request string }{
		{"content-length", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("a", 1000)},
		{"chunked", "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + strings.Repeat("a", 1000) + "\r\n"},
		{"expect 100-continue", "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			conn.SetDeadline(start.Add(15 * time.Second))
			io.WriteString(conn, tc.request)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			for err == nil && resp.StatusCode < 200 { // a 100 Continue: the transport started to send the body
				resp, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || string(body) != "no uploads here\n" || err != nil {
				t.Fatalf("status %d body %q (%v), want the whole 401", resp.StatusCode, body, err)
			}
			_, err = br.ReadByte() // the client sends nothing more
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection is still open after %v", time.Since(start))
			}
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("the connection closed after %v, want about 1 s", d)
			}
		})
	}
}

// TestSlowClientsAreCut: clients that start a body and stop sending get
// 408 after server.bodyIdleTimeout, and the upstream requests they held
// end; an upload that keeps sending, slower than the timeout in all,
// passes whole.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	up := &slowBodyUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	p := startProxy(t, baseConfig(srv.URL).set("server.bodyIdleTimeout", "1s").set("log.access", false))
	addr := strings.TrimPrefix(p.URL, "http://")

	const stalled = 20
	var wg sync.WaitGroup
	statuses := make(chan string, stalled)
	for i := range stalled {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				statuses <- err.Error()
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(15 * time.Second))
			fmt.Fprintf(conn, "POST /upload/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nthe first bytes", i)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				statuses <- err.Error()
				return
			}
			resp.Body.Close()
			statuses <- resp.Status
		})
	}
	// One upload that sends a byte every 300 ms: 3 s in all, never idle
	// for the 1 s timeout.
	slow := make(chan string, 1)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			slow <- err.Error()
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		io.WriteString(conn, "POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
		for i := range 10 {
			time.Sleep(300 * time.Millisecond)
			fmt.Fprint(conn, i)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		slow <- resp.Status + " " + string(b)
	}()
	start := time.Now()
	wg.Wait()
	close(statuses)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the stalled clients were answered after %v, want about 1 s", d)
	}
	for s := range statuses {
		if s != "408 Request Timeout" {
			t.Errorf("a stalled client got %q, want 408", s)
		}
	}
	if got := <-slow; got != "200 OK got 10 bytes" {
		t.Errorf("the slow upload got %q, want it through whole", got)
	}
	// The upstream requests the stalled clients held have ended.
	deadline := time.Now().Add(5 * time.Second)
	for {
		reading, cut, whole := up.state()
		if reading == 0 && cut == stalled {
			if len(whole) != 1 || whole[0] != "0123456789" {
				t.Errorf("upstream read %q whole, want the slow upload's 10 bytes", whole)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream still reading %d requests, %d cut; want all %d stalled ones cut", reading, cut, stalled)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.waitOutput(t, "request body idle: cut")
}
