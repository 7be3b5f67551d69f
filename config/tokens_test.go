package config_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionproxy/sessionproxy/config"
	"github.com/sessionproxy/sessionproxy/proxy/token"
)

const keyless = `
upstream: http://127.0.0.1:8080
keys: ["0123456789abcdef0123456789abcdef"]
`

// keyFiles writes a key of each kind, a public key and a file that is no
// key at all into a temporary directory, and returns their paths.
func keyFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	write := func(name string, b []byte) {
		files[name] = filepath.Join(dir, name+".pem")
		if err := os.WriteFile(files[name], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"ed25519", "p256"} {
		b, err := token.Generate(kind)
		if err != nil {
			t.Fatal(err)
		}
		write(kind, b)
	}
	b, _ := token.Generate("ed25519")
	write("ed25519-2", b)
	pub, _, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	write("public", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	write("text", []byte("not a key\n"))
	return files
}

// TestTokenAlg covers token.alg with its secret or signing keys: what
// Validate says, and what LoadKeys then says of the files.
func TestTokenAlg(t *testing.T) {
	f := keyFiles(t)
	tests := []struct {
		name    string
		yaml    string
		err     string // Validate's error; "" for none
		loadErr string // LoadKeys's error; "" for none
		keys    int
	}{
		{name: "HS256 by default", yaml: `token: {secret: "0123456789abcdef0123456789abcdef"}`},
		{name: "HS256 short secret", yaml: `token: {secret: short}`, err: "token.secret: must be at least 32 characters"},
		{name: "HS256 with keys", yaml: `token: {secret: "0123456789abcdef0123456789abcdef", signingKeys: [` + f["ed25519"] + `]}`, err: "token.signingKeys: are used only with token.alg EdDSA or ES256"},
		{name: "EdDSA", yaml: `token: {alg: EdDSA, signingKeys: [` + f["ed25519"] + `, ` + f["ed25519-2"] + `]}`, keys: 2},
		{name: "ES256", yaml: `token: {alg: ES256, signingKeys: [` + f["p256"] + `], audience: web}`, keys: 1},
		{name: "key from the environment", yaml: `token: {alg: EdDSA, signingKeys: ["${KEY_FILE}"]}`, keys: 1},
		{name: "unknown alg", yaml: `token: {alg: RS256, signingKeys: [` + f["ed25519"] + `]}`, err: `token.alg: "RS256" must be HS256, EdDSA or ES256`},
		{name: "secret with EdDSA", yaml: `token: {alg: EdDSA, secret: "0123456789abcdef0123456789abcdef", signingKeys: [` + f["ed25519"] + `]}`, err: "token.secret: must not be set with token.alg EdDSA"},
		{name: "no key", yaml: `token: {alg: ES256}`, err: "token.signingKeys: at least one PEM file of a private key is required with token.alg ES256 (sessionproxy -genkey p256"},
		{name: "unreadable file", yaml: `token: {alg: EdDSA, signingKeys: [/nonexistent/key.pem]}`, loadErr: "token.signingKeys[0]: open /nonexistent/key.pem: no such file or directory"},
		{name: "wrong key type", yaml: `token: {alg: EdDSA, signingKeys: [` + f["ed25519"] + `, ` + f["p256"] + `]}`, loadErr: "token.signingKeys[1]: " + f["p256"] + ": a P-256 ECDSA key: token.alg EdDSA needs an Ed25519 key"},
		{name: "public key", yaml: `token: {alg: EdDSA, signingKeys: [` + f["public"] + `]}`, loadErr: "token.signingKeys[0]: " + f["public"] + `: a public key (PEM "PUBLIC KEY"); a private key is needed to sign`},
		{name: "no PEM", yaml: `token: {alg: ES256, signingKeys: [` + f["text"] + `]}`, loadErr: "token.signingKeys[0]: " + f["text"] + ": no PEM block found"},
		{name: "the same key twice", yaml: `token: {alg: EdDSA, signingKeys: [` + f["ed25519"] + `, ` + f["ed25519"] + `]}`, loadErr: "token.signingKeys[1]: " + f["ed25519"] + " is the same key as token.signingKeys[0]"},
	}
	lookup := func(k string) (string, bool) {
		if k == "KEY_FILE" {
			return f["ed25519"], true
		}
		return "", false
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(keyless+tt.yaml), lookup)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse: %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			keys, err := config.LoadKeys(c)
			switch {
			case tt.loadErr != "" && (err == nil || !strings.Contains(err.Error(), tt.loadErr)):
				t.Fatalf("LoadKeys: %v, want an error containing %q", err, tt.loadErr)
			case tt.loadErr == "" && err != nil:
				t.Fatalf("LoadKeys: %v", err)
			case len(keys) != tt.keys:
				t.Errorf("LoadKeys gave %d keys, want %d", len(keys), tt.keys)
			}
		})
	}
}

// TestLoadKeysReportsEveryFile: two bad files, two problems.
func TestLoadKeysReportsEveryFile(t *testing.T) {
	f := keyFiles(t)
	c, err := config.Parse([]byte(keyless+`token: {alg: EdDSA, signingKeys: [/nonexistent/a.pem, `+f["ed25519"]+`, `+f["text"]+`]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.LoadKeys(c)
	if err == nil || !strings.Contains(err.Error(), "token.signingKeys[0]") || !strings.Contains(err.Error(), "token.signingKeys[2]") || strings.Contains(err.Error(), "token.signingKeys[1]") {
		t.Errorf("LoadKeys: %v, want the problems of [0] and [2]", err)
	}
}

func TestRouteAudience(t *testing.T) {
	c, err := config.Parse([]byte(keyless+`token: {secret: "0123456789abcdef0123456789abcdef", audience: web}
routes: [{path: /orders/, audience: orders}]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Audience != "web" || c.Routes[0].Audience != "orders" {
		t.Errorf("audiences %q, %q", c.Token.Audience, c.Routes[0].Audience)
	}
}
