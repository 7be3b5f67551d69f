package test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonRotatesTheTokenSecret follows docs/rotate-keys.md for
// token.secret: the Flask (and the FastAPI) example holds the new secret
// and, as its old one, the secret the proxy signs with; the proxy's
// token.secret changes with SIGHUP while clients keep requesting, and not
// one request is refused. A third secret afterwards is refused: the app
// really checks.
func TestPythonRotatesTheTokenSecret(t *testing.T) {
	t.Parallel()
	for _, example := range []string{"flask", "fastapi"} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			rotateTheTokenSecret(t, "../examples/"+example+"/app.py")
		})
	}
}

func rotateTheTokenSecret(t *testing.T, script string) {
	const newSecret = "test-upstream-secret-new-0123456789abcdef"
	sdk, err := filepath.Abs("../sdk/python")
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: the app accepts the new secret and the old (the proxy's).
	_, m := startProcess(t, listeningOn, []string{"PYTHONPATH=" + sdk, "UPSTREAM_SECRET=" + newSecret, "UPSTREAM_OLD_SECRET=" + testSecret},
		pythonPath(t), script, "--port", "0")
	cfg := baseConfig("http://" + m[1])
	path := cfg.write(t)
	pp, pm := startProcess(t, proxyListening, nil, binary, "-config", path)
	p := &proxy{process: pp, URL: "http://" + pm[1], Admin: "http://" + pm[2]}

	const clients = 3
	jars := make([]*http.Client, clients)
	for i := range jars {
		jars[i] = newClient(t)
		wantGet(t, jars[i], p.URL+"/set", http.StatusOK, "session set")
	}
	rotation := keepReading(t, p, jars, 2*time.Second)

	// Step 2: the proxy signs with the new secret.
	time.Sleep(500 * time.Millisecond)
	cfg.set("token.secret", newSecret).rewrite(t, path)
	p.sighup(t, `"msg":"config reloaded"`, 1)
	if n := rotation.wait(); n < 10 {
		t.Fatalf("%d requests during the rotation, want at least 10", n)
	}

	// A secret the app does not hold is refused: the reload took effect
	// and the app checks every token.
	cfg.set("token.secret", "test-upstream-secret-third-0123456789abcdef").rewrite(t, path)
	p.sighup(t, `"msg":"config reloaded"`, 2)
	wantStatus(t, jars[0], p.URL+"/get", http.StatusUnauthorized)
}
