package proxy

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/session"
)

// TestMint checks the hand-written token against golang-jwt: its parser
// verifies it, and its claims are those golang-jwt would have signed.
func TestMint(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	ttl := 90 * time.Second
	m := newMinter([]byte(testSecret), ttl)
	tests := []struct {
		name string
		s    session.Session
	}{
		{"secure session", session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"user":{"name":"john doe","age":30}}`)}},
		{"koa session has no sid", session.Session{Data: []byte(`{"a":1}`)}},
		{"new and empty", session.Session{ID: "x", Data: []byte(`{}`), IsNew: true}},
		{"no data at all", session.Session{ID: "x"}},
		{"odd id", session.Session{ID: "a\"b\\c<é>\n", Data: []byte(`{}`)}},
		{"data kept as written", session.Session{ID: "x", Data: []byte(`{ "html": "<b>&amp;</b>", "big": 12345678901234567890, "u": "é\u2028" }`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := m.mint(&tc.s, now)
			var got Claims
			parsed, err := jwt.ParseWithClaims(tok, &got, func(*jwt.Token) (any, error) {
				return []byte(testSecret), nil
			}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			if err != nil {
				t.Fatalf("golang-jwt rejects %s: %v", tok, err)
			}
			if parsed.Header["typ"] != "JWT" {
				t.Errorf("header %v", parsed.Header)
			}
			data := tc.s.Data
			if len(data) == 0 {
				data = []byte("{}")
			}
			want := Claims{SID: tc.s.ID, Sess: data, New: tc.s.IsNew, RegisteredClaims: jwt.RegisteredClaims{
				Issuer: Issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			}}
			if !sameJSON(t, got.Sess, want.Sess) {
				t.Errorf("sess %s, want %s", got.Sess, want.Sess)
			}
			got.Sess, want.Sess = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims %+v, want %+v", got, want)
			}
		})
	}
}

// TestMintLikeGolangJWT checks that a plain session's token is the very
// token golang-jwt signs, byte for byte.
func TestMintLikeGolangJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"n":1,"user":{"age":30}}`), IsNew: true}
	want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{SID: s.ID, Sess: s.Data, New: true, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	m := newMinter([]byte(testSecret), time.Minute)
	for range 3 { // pooled buffers and HMACs are reused cleanly
		if got := m.mint(&s, now); got != want {
			t.Fatalf("token\n%s\nwant\n%s", got, want)
		}
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(want, ".")[0])
	if string(header) != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("golang-jwt's header is %s", header)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
