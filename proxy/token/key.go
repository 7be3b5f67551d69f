// Package token owns the asymmetric keys that sign the session JWT the
// upstream receives (EdDSA with Ed25519, ES256 with P-256): reading them
// from PKCS#8 PEM files, naming them by their RFC 7638 thumbprint,
// generating new ones, and publishing their public halves as a JWKS
// document, so that an upstream can verify a token but never mint one.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// The algorithms a session token is signed with (token.alg).
const (
	HS256 = "HS256" // HMAC-SHA256 with token.secret: every verifier can also mint
	EdDSA = "EdDSA" // Ed25519
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
)

// Key is a private key that signs session tokens, with the algorithm it
// signs for and its key id.
type Key struct {
	// Alg is EdDSA or ES256.
	Alg string
	// ID is the key's RFC 7638 thumbprint (base64url of the SHA-256 of its
	// canonical public JWK): the same key always gets the same id, so a
	// verifier's cache stays valid across restarts and reloads.
	ID string

	private crypto.PrivateKey // ed25519.PrivateKey or *ecdsa.PrivateKey
	method  jwt.SigningMethod
	public  JWK
	header  string // the JWT's first segment for this key
}

// JWK is a public key as a JSON Web Key (RFC 7517), as the JWKS document
// publishes it.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// ErrNotPEM is returned by ParseKey for input that holds no PEM block.
var ErrNotPEM = errors.New("no PEM block found")

// ParseKey reads a PKCS#8 PEM private key for alg (EdDSA or ES256). Its
// errors say what is wrong with the key in words an operator can act on: a
// public key where a private one is needed, a key of another type, a curve
// other than P-256.
func ParseKey(pemBytes []byte, alg string) (*Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, ErrNotPEM
	}
	switch block.Type {
	case "PRIVATE KEY":
	case "PUBLIC KEY", "EC PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("a public key (PEM %q); a private key is needed to sign", block.Type)
	case "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("PEM %q is not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt`", block.Type)
	default:
		return nil, fmt.Errorf("PEM %q is not a PKCS#8 private key", block.Type)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8: %w", err)
	}
	switch alg {
	case EdDSA:
		k, ok := parsed.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s key: token.alg EdDSA needs an Ed25519 key", keyKind(parsed))
		}
		return newKey(EdDSA, k, jwt.SigningMethodEdDSA, JWK{
			Kty: "OKP", Crv: "Ed25519",
			X: b64(k.Public().(ed25519.PublicKey)),
		}), nil
	case ES256:
		k, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s key: token.alg ES256 needs a P-256 key", keyKind(parsed))
		}
		pub, err := k.PublicKey.Bytes() // uncompressed: 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("P-256 public key: %w", err)
		}
		return newKey(ES256, k, jwt.SigningMethodES256, JWK{
			Kty: "EC", Crv: "P-256",
			X: b64(pub[1:33]), Y: b64(pub[33:65]),
		}), nil
	default:
		return nil, fmt.Errorf("token.alg %q takes no key file (EdDSA or ES256 do)", alg)
	}
}

func newKey(alg string, private crypto.PrivateKey, method jwt.SigningMethod, pub JWK) *Key {
	pub.Kid = thumbprint(pub)
	pub.Use, pub.Alg = "sig", alg
	header, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, pub.Kid, "JWT"}) // plain strings always marshal
	return &Key{Alg: alg, ID: pub.Kid, private: private, method: method, public: pub, header: b64(header)}
}

// thumbprint is RFC 7638's: the SHA-256 of the JWK's required members in
// lexicographic order, without spaces.
func thumbprint(k JWK) string {
	var canon []byte
	if k.Kty == "EC" {
		canon = fmt.Appendf(nil, `{"crv":%q,"kty":%q,"x":%q,"y":%q}`, k.Crv, k.Kty, k.X, k.Y)
	} else {
		canon = fmt.Appendf(nil, `{"crv":%q,"kty":%q,"x":%q}`, k.Crv, k.Kty, k.X)
	}
	sum := sha256.Sum256(canon)
	return b64(sum[:])
}

func keyKind(k any) string {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return "an Ed25519"
	case *ecdsa.PrivateKey:
		return "a " + k.Curve.Params().Name + " ECDSA"
	default:
		return fmt.Sprintf("a %T", k)
	}
}

// Header returns the JWT's first segment for tokens this key signs:
// base64url of {"alg":…,"kid":…,"typ":"JWT"}.
func (k *Key) Header() string { return k.header }

// Sign returns the signature of a token's signing input (its first two
// segments joined by a dot), ready to be base64url-encoded as the third.
func (k *Key) Sign(input string) ([]byte, error) {
	return k.method.Sign(input, k.private)
}

// Public returns the key's public half as a JWK.
func (k *Key) Public() JWK { return k.public }

// PublicKey returns the key's public half as a crypto.PublicKey, for
// verifiers.
func (k *Key) PublicKey() crypto.PublicKey {
	return k.private.(crypto.Signer).Public()
}

// Generate returns a new private key of kind "ed25519" or "p256" as PKCS#8
// PEM: what `sessionproxy -genkey` prints.
func Generate(kind string) ([]byte, error) {
	var k any
	var err error
	switch kind {
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unknown key kind %q (ed25519 or p256)", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", kind, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", kind, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
