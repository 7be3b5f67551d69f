package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestThumbprintRFC8037 checks the key id against RFC 8037's worked
// example (appendix A.3), an Ed25519 key and its RFC 7638 thumbprint.
func TestThumbprintRFC8037(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	k, err := ParseKey(pkcs8(t, ed25519.NewKeyFromSeed(seed)), EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Public().X, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"; got != want {
		t.Errorf("x = %s, want %s", got, want)
	}
	if got, want := k.ID, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("kid = %s, want %s", got, want)
	}
}

func TestParseKeyErrors(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(edKey.Public())
	sec1, _ := x509.MarshalECPrivateKey(p256)
	tests := []struct {
		name string
		pem  []byte
		alg  string
		want string
	}{
		{"not PEM", []byte("hello"), EdDSA, "no PEM block"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), EdDSA, "a public key"},
		{"SEC1 EC key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ES256, "not PKCS#8"},
		{"garbage in a PKCS#8 block", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), EdDSA, "PKCS#8"},
		{"RSA for EdDSA", pkcs8(t, rsaKey), EdDSA, "needs an Ed25519 key"},
		{"P-256 for EdDSA", pkcs8(t, p256), EdDSA, "a P-256 ECDSA key: token.alg EdDSA needs an Ed25519 key"},
		{"Ed25519 for ES256", pkcs8(t, edKey), ES256, "an Ed25519 key: token.alg ES256 needs a P-256 key"},
		{"P-384 for ES256", pkcs8(t, p384), ES256, "a P-384 ECDSA key"},
		{"HS256 takes no key", pkcs8(t, edKey), HS256, "takes no key file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.pem, tc.alg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseKey: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSignVerifies signs a token with a generated key of each kind and
// verifies it with golang-jwt and the published JWK alone.
func TestSignVerifies(t *testing.T) {
	for _, tc := range []struct{ kind, alg string }{{"ed25519", EdDSA}, {"p256", ES256}} {
		t.Run(tc.alg, func(t *testing.T) {
			pemBytes, err := Generate(tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParseKey(pemBytes, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := ParseKey(pemBytes, tc.alg)
			if again.ID != k.ID {
				t.Errorf("the same key got two ids: %s, %s", k.ID, again.ID)
			}
			claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"iss":"sessionproxy","exp":%d}`, time.Now().Add(time.Minute).Unix()))
			input := k.Header() + "." + claims
			sig, err := k.Sign(input)
			if err != nil {
				t.Fatal(err)
			}
			tok := input + "." + base64.RawURLEncoding.EncodeToString(sig)
			pub := publicFromJWK(t, k.Public())
			parsed, err := jwt.Parse(tok, func(tok *jwt.Token) (any, error) {
				if tok.Header["kid"] != k.ID {
					t.Errorf("kid header %v, want %s", tok.Header["kid"], k.ID)
				}
				return pub, nil
			}, jwt.WithValidMethods([]string{tc.alg}), jwt.WithIssuer("sessionproxy"))
			if err != nil || !parsed.Valid {
				t.Fatalf("a %s token does not verify with its published key: %v", tc.alg, err)
			}
		})
	}
}

// publicFromJWK builds the public key a verifier would from the JWK.
func publicFromJWK(t *testing.T, j JWK) any {
	t.Helper()
	x, err := base64.RawURLEncoding.DecodeString(j.X)
	if err != nil {
		t.Fatal(err)
	}
	switch j.Kty {
	case "OKP":
		return ed25519.PublicKey(x)
	case "EC":
		y, _ := base64.RawURLEncoding.DecodeString(j.Y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	t.Fatalf("unknown kty %q", j.Kty)
	return nil
}

func TestGenerateUnknownKind(t *testing.T) {
	if _, err := Generate("rsa"); err == nil || !strings.Contains(err.Error(), "ed25519 or p256") {
		t.Errorf("Generate(rsa): %v", err)
	}
}

func TestJWKS(t *testing.T) {
	var keys []*Key
	for _, tc := range []struct{ kind, alg string }{{"ed25519", EdDSA}, {"p256", ES256}} {
		p, _ := Generate(tc.kind)
		k, err := ParseKey(p, tc.alg)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	j := NewJWKS(keys)
	srv := httptest.NewServer(j)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(doc.Keys) != 2 {
		t.Fatalf("%d keys published, want 2", len(doc.Keys))
	}
	for i, want := range []map[string]string{
		{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": keys[0].ID, "x": keys[0].Public().X},
		{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": keys[1].ID, "x": keys[1].Public().X, "y": keys[1].Public().Y},
	} {
		for k, v := range want {
			if doc.Keys[i][k] != v {
				t.Errorf("key %d: %s = %q, want %q", i, k, doc.Keys[i][k], v)
			}
		}
		if _, ok := doc.Keys[i]["d"]; ok {
			t.Errorf("key %d publishes its private part", i)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control %q lets no verifier cache it", cc)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("If-None-Match", inm)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: status %d, want 304", inm, resp.StatusCode)
		}
	}
	if other := NewJWKS(keys[:1]); other.etag == j.etag {
		t.Error("two different key sets share an ETag")
	}
}
