package proxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite sdk/testdata/vectors.json")

// vectorsFile holds the conformance vectors every app-side library
// (sdk/python, sdk/node, sdk/go) checks itself against.
const vectorsFile = "../sdk/testdata/vectors.json"

// vectorSecret is the HS256 secret of the vectors; nothing real.
const vectorSecret = "vector-secret-0123456789abcdef0123456789"

// vectors is the file's shape; its "about" says how a library uses it.
type vectors struct {
	About   []string        `json:"about"`
	Secret  string          `json:"secret"`
	Issuer  string          `json:"issuer"`
	JWKS    json.RawMessage `json:"jwks"`
	Tokens  []tokenVector   `json:"tokens"`
	Patches []patchVector   `json:"patches"`
}

type tokenVector struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	// Secret is the HS256 secret to verify with; empty for a token to
	// verify with the JWKS (served from a URL, as the proxy serves it).
	Secret   string `json:"secret,omitempty"`
	Audience string `json:"audience,omitempty"`
	// Claims are the claims a valid token verifies to; Error is the
	// reason an invalid one is refused.
	Claims json.RawMessage `json:"claims,omitempty"`
	Error  string          `json:"error,omitempty"`
}

type patchVector struct {
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// Patch is the smallest merge patch from Before to After; null when
	// nothing changed (no X-Session-Set at all).
	Patch json.RawMessage `json:"patch"`
}

// TestVectors writes the conformance vectors from the proxy's own code: its
// token minter signs the tokens and its merge patch proves each patch. The
// test fails when the committed file drifts from what the code produces;
// `go test ./proxy -run TestVectors -update-vectors` rewrites it.
func TestVectors(t *testing.T) {
	committed, _ := os.ReadFile(vectorsFile)
	got := buildVectors(t, committed)
	if *updateVectors {
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (go test ./proxy -run TestVectors -update-vectors writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the proxy's code writes; rerun with -update-vectors and commit it", vectorsFile)
	}
}

func buildVectors(t *testing.T, committed []byte) []byte {
	t.Helper()
	// Valid tokens are issued now-ish and live a century, so that the
	// libraries check them against the real clock; expired ones ended
	// long ago.
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := newMinter([]byte(vectorSecret), 100*365*24*time.Hour)
	short := newMinter([]byte(vectorSecret), time.Minute)

	existing := &session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"user":{"name":"john doe","age":30}}`)}
	fresh := &session.Session{ID: "EBESExQVFhcYGRobHB0eHw", Data: []byte(`{}`), IsNew: true}
	koa := &session.Session{Data: []byte(`{"views":3}`)}
	sign := func(m *minter, s *session.Session) string { return mustSign(t, m, s, "", issued) }
	valid := sign(long, existing)
	header, payload, _ := strings.Cut(valid, ".")
	payload, _, _ = strings.Cut(payload, ".")

	v := vectors{
		About: []string{
			"Conformance vectors for the app-side session libraries, written by proxy/vectors_test.go from the proxy's own code; do not edit by hand.",
			"tokens: verify each with its secret, or, when it has none, with the keys of jwks served from a URL (as the proxy's admin listener serves them), and with its audience when given and issuer \"sessionproxy\", against the real clock. A vector with claims must verify to exactly those claims; one with error must be refused, the library naming that reason: malformed, alg, signature, expired, issuer, audience, kid.",
			"patches: a library whose session arrived as before and is after at response time sends patch as its X-Session-Set (the smallest RFC 7396 merge patch: only changed keys, removed keys as null, nested objects diffed, arrays replaced whole); a null patch means no header at all.",
		},
		Secret: vectorSecret,
		Issuer: Issuer,
		Tokens: []tokenVector{
			{Name: "existing session", Token: valid},
			{Name: "new session", Token: sign(long, fresh)},
			{Name: "koa format has no sid", Token: sign(long, koa)},
			{Name: "expired", Token: sign(short, existing), Error: "expired"},
			{Name: "bad signature", Token: sign(newMinter([]byte("another-secret-0123456789abcdef01234"), 100*365*24*time.Hour), existing), Error: "signature"},
			{Name: "signature cut off", Token: header + "." + payload + ".", Error: "signature"},
			{Name: "alg none", Token: unsigned(t, `{"alg":"none","typ":"JWT"}`, payload), Error: "alg"},
			{Name: "alg HS512", Token: signedWith(t, jwt.SigningMethodHS512, jwt.MapClaims{"iss": Issuer, "sess": map[string]any{}, "iat": issued.Unix(), "exp": issued.AddDate(100, 0, 0).Unix()}), Error: "alg"},
			{Name: "wrong issuer", Token: signedWith(t, jwt.SigningMethodHS256, jwt.MapClaims{"iss": "someone-else", "sess": map[string]any{}, "iat": issued.Unix(), "exp": issued.AddDate(100, 0, 0).Unix()}), Error: "issuer"},
			{Name: "right audience", Audience: "orders", Token: signedWith(t, jwt.SigningMethodHS256, jwt.MapClaims{"iss": Issuer, "aud": "orders", "sess": map[string]any{}, "new": true, "iat": issued.Unix(), "exp": issued.AddDate(100, 0, 0).Unix()})},
			{Name: "wrong audience", Audience: "billing", Token: signedWith(t, jwt.SigningMethodHS256, jwt.MapClaims{"iss": Issuer, "aud": "orders", "sess": map[string]any{}, "iat": issued.Unix(), "exp": issued.AddDate(100, 0, 0).Unix()}), Error: "audience"},
			{Name: "audience expected, none in token", Audience: "billing", Token: valid, Error: "audience"},
			{Name: "not a JWT", Token: "not-a-token", Error: "malformed"},
			{Name: "empty", Token: "", Error: "malformed"},
			{Name: "header not JSON", Token: base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + payload + ".c2ln", Error: "malformed"},
			{Name: "header a JSON list", Token: base64.RawURLEncoding.EncodeToString([]byte(`["alg","HS256"]`)) + "." + payload + ".c2ln", Error: "malformed"},
		},
		Patches: []patchVector{
			{Name: "nothing changed", Before: raw(`{"user":{"name":"john doe","age":30}}`), After: raw(`{"user":{"name":"john doe","age":30}}`), Patch: raw(`null`)},
			{Name: "empty stays empty", Before: raw(`{}`), After: raw(`{}`), Patch: raw(`null`)},
			{Name: "first key", Before: raw(`{}`), After: raw(`{"user":{"name":"john doe","age":30}}`), Patch: raw(`{"user":{"name":"john doe","age":30}}`)},
			{Name: "one key of several", Before: raw(`{"a":1,"b":2,"c":3}`), After: raw(`{"a":1,"b":20,"c":3}`), Patch: raw(`{"b":20}`)},
			{Name: "removed key", Before: raw(`{"a":1,"b":2}`), After: raw(`{"a":1}`), Patch: raw(`{"b":null}`)},
			{Name: "nested change", Before: raw(`{"user":{"name":"john doe","age":30}}`), After: raw(`{"user":{"name":"john doe","age":31}}`), Patch: raw(`{"user":{"age":31}}`)},
			{Name: "nested removal", Before: raw(`{"user":{"name":"john doe","age":30}}`), After: raw(`{"user":{"name":"john doe"}}`), Patch: raw(`{"user":{"age":null}}`)},
			{Name: "array appended is replaced whole", Before: raw(`{"cart":[1,2]}`), After: raw(`{"cart":[1,2,3]}`), Patch: raw(`{"cart":[1,2,3]}`)},
			{Name: "object becomes a scalar", Before: raw(`{"user":{"name":"john doe"}}`), After: raw(`{"user":"john"}`), Patch: raw(`{"user":"john"}`)},
			{Name: "scalar becomes an object", Before: raw(`{"user":"john"}`), After: raw(`{"user":{"name":"john doe"}}`), Patch: raw(`{"user":{"name":"john doe"}}`)},
			{Name: "object emptied", Before: raw(`{"prefs":{"a":1,"b":2}}`), After: raw(`{"prefs":{}}`), Patch: raw(`{"prefs":{"a":null,"b":null}}`)},
			{Name: "new empty object", Before: raw(`{}`), After: raw(`{"prefs":{}}`), Patch: raw(`{"prefs":{}}`)},
			{Name: "type change number to string", Before: raw(`{"n":1}`), After: raw(`{"n":"1"}`), Patch: raw(`{"n":"1"}`)},
			{Name: "false and zero are values", Before: raw(`{"a":true,"b":1}`), After: raw(`{"a":false,"b":0}`), Patch: raw(`{"a":false,"b":0}`)},
			{Name: "unicode", Before: raw(`{}`), After: raw(`{"name":"Zoë ✓"}`), Patch: raw(`{"name":"Zoë ✓"}`)},
			{Name: "everything removed", Before: raw(`{"a":1,"b":{"c":2}}`), After: raw(`{}`), Patch: raw(`{"a":null,"b":null}`)},
			// The proxy keeps a null inside an array (a merge patch stores
			// arrays whole), and a Koa app's cookie may hold null members:
			// the session as it arrived, not a change.
			{Name: "nulls the proxy holds are no change", Before: raw(`{"a":1,"x":null,"u":{"y":null,"z":1},"cart":[{"id":1,"note":null},null]}`), After: raw(`{"a":1,"x":null,"u":{"y":null,"z":1},"cart":[{"id":1,"note":null},null]}`), Patch: raw(`null`)},
			{Name: "a null inside an array is kept", Before: raw(`{"cart":[1]}`), After: raw(`{"cart":[{"id":1,"note":null},null]}`), Patch: raw(`{"cart":[{"id":1,"note":null},null]}`)},
			// A header value must be printable ASCII: DEL and control
			// characters are sent as \u escapes.
			{Name: "control characters and DEL", Before: raw(`{}`), After: raw(`{"s":"a\u007fb\u0001c\td"}`), Patch: raw(`{"s":"a\u007fb\u0001c\td"}`)},
		},
	}
	for i := range v.Tokens {
		tv := &v.Tokens[i]
		tv.Secret = vectorSecret
		if tv.Error == "" {
			tv.Claims = verifiedClaims(t, tv.Token, jwt.WithValidMethods([]string{"HS256"}))
		}
	}
	v.JWKS, v.Tokens = appendKeyVectors(t, v.Tokens, func(k *token.Key) string {
		return sign(newKeyMinter(k, 100*365*24*time.Hour), existing)
	}, valid, committed)
	for _, p := range v.Patches {
		checkPatch(t, p)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// checkPatch holds a patch vector to the proxy's merge patch: applied to
// Before it gives After.
func checkPatch(t *testing.T, p patchVector) {
	t.Helper()
	got := p.Before
	if string(p.Patch) != "null" {
		merged, err := session.MergePatch(p.Before, p.Patch)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		got = merged
	}
	if !jsonEqual(t, got, p.After) {
		t.Errorf("%s: the proxy applies the patch as %s, the vector says %s", p.Name, got, p.After)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// verifiedClaims returns a valid token's claims, verified with golang-jwt
// (with vectorSecret unless an option says otherwise).
func verifiedClaims(t *testing.T, tok string, opts ...jwt.ParserOption) json.RawMessage {
	t.Helper()
	return verifiedClaimsWith(t, tok, func(*jwt.Token) (any, error) { return []byte(vectorSecret), nil }, opts...)
}

func verifiedClaimsWith(t *testing.T, tok string, key jwt.Keyfunc, opts ...jwt.ParserOption) json.RawMessage {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, key, append(opts, jwt.WithIssuer(Issuer))...); err != nil {
		t.Fatalf("a valid vector does not verify: %v", err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signedWith(t *testing.T, m jwt.SigningMethod, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString([]byte(vectorSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func unsigned(t *testing.T, header, payload string) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + payload + "."
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// Test-only signing keys of the vectors, one per asymmetric algorithm, and
// one that the JWKS does not publish.
var (
	vectorEd25519Seed = []byte("vector-ed25519-seed-0123456789ab")
	vectorP256Scalar  = []byte("vector-p256-scalar-0123456789abc")
	strayEd25519Seed  = []byte("stray-ed25519-seed-0123456789abc")
)

// appendKeyVectors adds the EdDSA and ES256 tokens, which mint signs with
// each key, and the invalid ones made from their payload. It returns the
// JWKS that verifies them. ES256 signatures are randomized, so a committed
// ES256 token that still verifies to the same claims is kept as it is;
// otherwise the file would change on every run.
func appendKeyVectors(t *testing.T, tokens []tokenVector, mint func(*token.Key) string, hsToken string, committed []byte) (json.RawMessage, []tokenVector) {
	t.Helper()
	ed := vectorKey(t, ed25519.NewKeyFromSeed(vectorEd25519Seed), token.EdDSA)
	p256, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), vectorP256Scalar)
	if err != nil {
		t.Fatal(err)
	}
	es := vectorKey(t, p256, token.ES256)
	stray := vectorKey(t, ed25519.NewKeyFromSeed(strayEd25519Seed), token.EdDSA)
	keys := map[string]*token.Key{ed.ID: ed, es.ID: es}

	var old vectors
	_ = json.Unmarshal(committed, &old) // a missing or broken file keeps nothing
	kept := map[string]string{}
	for _, tv := range old.Tokens {
		kept[tv.Name] = tv.Token
	}

	_, rest, _ := strings.Cut(mint(ed), ".")
	payload, _, _ := strings.Cut(rest, ".")
	signed := func(k *token.Key, header string) string {
		input := header + "." + payload
		sig, err := k.Sign(input)
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	keyfunc := func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k.PublicKey(), nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}
	valid := func(name string, k *token.Key) tokenVector {
		tok := mint(k)
		if prev, ok := kept[name]; ok && k.Alg == token.ES256 {
			if _, err := jwt.Parse(prev, keyfunc, jwt.WithValidMethods([]string{k.Alg}), jwt.WithIssuer(Issuer)); err == nil {
				tok = prev
			}
		}
		return tokenVector{Name: name, Token: tok, Claims: verifiedClaimsWith(t, tok, keyfunc, jwt.WithValidMethods([]string{k.Alg}))}
	}
	edValid := valid("EdDSA existing session", ed)
	tokens = append(tokens,
		edValid,
		valid("ES256 existing session", es),
		tokenVector{Name: "EdDSA unknown kid", Token: signed(stray, stray.Header()), Error: "kid"},
		tokenVector{Name: "EdDSA bad signature", Token: signed(stray, ed.Header()), Error: "signature"},
		tokenVector{Name: "EdDSA without kid", Token: signed(ed, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`))), Error: "kid"},
		// The classic confusion: an HS256 token whose secret is a public
		// key; a JWKS verifier must never accept HS256.
		tokenVector{Name: "HS256 against a JWKS", Token: hsToken, Error: "alg"},
	)
	jwks, err := io.ReadAll(httptestJWKS(token.NewJWKS([]*token.Key{ed, es})))
	if err != nil {
		t.Fatal(err)
	}
	return jwks, tokens
}

func vectorKey(t *testing.T, k any, alg string) *token.Key {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), alg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// httptestJWKS returns the body the admin listener serves for j.
func httptestJWKS(j *token.JWKS) io.Reader {
	rec := httptest.NewRecorder()
	j.ServeHTTP(rec, httptest.NewRequest("GET", token.JWKSPath, nil))
	return rec.Body
}
