package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
)

// testKey returns a new signing key of kind "ed25519" or "p256".
func testKey(t testing.TB, kind string) *token.Key {
	t.Helper()
	pem, err := token.Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	alg := map[string]string{"ed25519": token.EdDSA, "p256": token.ES256}[kind]
	k, err := token.ParseKey(pem, alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// parseKeyToken verifies tok with k's public key alone, as an upstream
// holding only the JWKS does, and returns its claims and header.
func parseKeyToken(t *testing.T, k *token.Key, tok string, opts ...jwt.ParserOption) (jwt.MapClaims, map[string]any) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return k.PublicKey(), nil },
		append(opts, jwt.WithValidMethods([]string{k.Alg}), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt())...)
	if err != nil {
		t.Fatalf("golang-jwt rejects the %s token %s: %v", k.Alg, tok, err)
	}
	return claims, parsed.Header
}

// TestMintKey signs with an Ed25519 and a P-256 key: the token verifies
// with the public key, names the key in its kid, and carries the claims
// an HS256 token carries, aud included when asked.
func TestMintKey(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, kind := range []string{"ed25519", "p256"} {
		k := testKey(t, kind)
		m := newKeyMinter(k, time.Minute)
		hs := newMinter([]byte(testSecret), time.Minute)
		t.Run(k.Alg, func(t *testing.T) {
			s := &session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"user":{"name":"john doe"}}`)}
			for _, aud := range []string{"", "orders"} {
				tok := mustMint(t, m, s, aud, now)
				var opts []jwt.ParserOption
				if aud != "" {
					opts = append(opts, jwt.WithAudience(aud))
				}
				claims, header := parseKeyToken(t, k, tok, opts...)
				if header["kid"] != k.ID || header["alg"] != k.Alg || header["typ"] != "JWT" {
					t.Errorf("header %v, want alg %s, kid %s, typ JWT", header, k.Alg, k.ID)
				}
				if claims["sid"] != s.ID || claims["new"] != false || claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(time.Minute).Unix()) {
					t.Errorf("claims %v", claims)
				}
				if got, _ := claims["aud"].(string); got != aud {
					t.Errorf("aud %v, want %q", claims["aud"], aud)
				}
				// The same payload as the HS256 token: only the header
				// and the signature differ.
				if got, want := strings.Split(tok, ".")[1], strings.Split(mustMint(t, hs, s, aud, now), ".")[1]; got != want {
					t.Errorf("payload %s, the HS256 token's is %s", got, want)
				}
			}
		})
	}
}

// TestMintKeyReuse checks the reuse of a signed token: the same session,
// data and audience get the token signed earlier while it is less than a
// quarter of the ttl old, so that the upstream always gets at least three
// quarters of it; a changed session, data, newness or audience, or
// another key, never gets another's token.
func TestMintKeyReuse(t *testing.T) {
	const ttl = 60 * time.Second // reused for 15 s
	t0 := time.Unix(1_700_000_000, 0)
	k := testKey(t, "p256") // randomized signatures: a new token never equals an old one
	m := newKeyMinter(k, ttl)
	orig := func() *session.Session {
		return &session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"n":1}`)}
	}
	first := mustMint(t, m, orig(), "", t0)
	for _, st := range []struct {
		name   string
		at     time.Time
		reused bool
	}{
		{"same second", t0, true},
		{"14.9 s later", t0.Add(14900 * time.Millisecond), true},
		{"a clock gone back", t0.Add(-time.Second), false},
	} {
		if tok := mustMint(t, m, orig(), "", st.at); (tok == first) != st.reused {
			t.Errorf("%s: reused %v, want %v", st.name, tok == first, st.reused)
		}
	}
	at := t0.Add(time.Second)
	for _, v := range []struct {
		name   string
		change func(s *session.Session)
		aud    string
	}{
		{"data changed in place", func(s *session.Session) { s.Data[5] = '2' }, ""},
		{"audience", func(*session.Session) {}, "orders"},
		{"other id", func(s *session.Session) { s.ID = "BBECAwQFBgcICQoLDA0ODw" }, ""},
		{"new", func(s *session.Session) { s.IsNew = true }, ""},
	} {
		s := orig()
		v.change(s)
		tok := mustMint(t, m, s, v.aud, at)
		if tok == first {
			t.Fatalf("%s: got the first session's token", v.name)
		}
		claims, _ := parseKeyToken(t, k, tok, jwt.WithTimeFunc(func() time.Time { return at }))
		sess, _ := json.Marshal(claims["sess"])
		if claims["sid"] != s.ID || claims["new"] != s.IsNew || !sameJSON(t, sess, s.Data) || claims["iat"] != float64(at.Unix()) || (claims["aud"] != nil) != (v.aud != "") {
			t.Fatalf("%s: claims %v are not the session's", v.name, claims)
		}
	}
	// A quarter of the ttl on, a new token (45 s of it left), reused in
	// turn.
	later := mustMint(t, m, orig(), "", t0.Add(15*time.Second))
	if later == first {
		t.Fatal("a token a quarter of the ttl old was reused")
	}
	if again := mustMint(t, m, orig(), "", t0.Add(20*time.Second)); again != later {
		t.Error("the new token was not reused")
	}
	// Another key (a reload builds a new minter): never the old token.
	other := newKeyMinter(testKey(t, "p256"), ttl)
	if tok := mustMint(t, other, orig(), "", t0.Add(20*time.Second)); tok == later {
		t.Error("another key handed out the first key's token")
	}
}

// TestMintKeyReuseShortTTL: a ttl under 4 s still reuses within the
// second, as HS256 does, never longer.
func TestMintKeyReuseShortTTL(t *testing.T) {
	m := newKeyMinter(testKey(t, "p256"), 2*time.Second)
	s := &session.Session{ID: "x", Data: []byte(`{}`)}
	t0 := time.Unix(1_700_000_000, 0)
	first := mustMint(t, m, s, "", t0)
	if mustMint(t, m, s, "", t0.Add(900*time.Millisecond)) != first {
		t.Error("not reused within the second")
	}
	if mustMint(t, m, s, "", t0.Add(time.Second)) == first {
		t.Error("reused in the next second with a 2 s ttl")
	}
}

// TestAudience: a route's audience overrides the global one, which the
// routes without their own and the default route carry.
func TestAudience(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Session")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t, "ed25519")
	p, err := New(Options{Upstream: u, Sessions: sm, TokenKey: k, Audience: "web", Routes: []Route{
		{Path: "/orders/", Audience: "orders"},
		{Path: "/plain/"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/": "web", "/orders/1": "orders", "/plain/x": "web"} {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		claims, _ := parseKeyToken(t, k, <-got, jwt.WithAudience(want))
		if claims["aud"] != want {
			t.Errorf("%s: aud %v, want %s", path, claims["aud"], want)
		}
	}
}

func TestNewTokenOptions(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	sm, _ := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"neither", Options{}, "TokenSecret or TokenKey is required"},
		{"both", Options{TokenSecret: []byte(testSecret), TokenKey: testKey(t, "ed25519")}, "exclude each other"},
	} {
		tc.o.Upstream, tc.o.Sessions = u, sm
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
