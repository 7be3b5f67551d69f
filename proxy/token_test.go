package proxy

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
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
			tok := mustMint(t, m, &tc.s, "", now)
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
// token golang-jwt signs, byte for byte: a small session, whose claims are
// encoded by encoding/base64, and a signed-in user's, by segmentio/asm.
func TestMintLikeGolangJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	user := `{"user":{"id":1000042,"name":"Alexandra Example 0000042","email":"alexandra.example.0000042@example.com",` +
		`"roles":["member","editor","billing"],"locale":"en-GB","verified":true},"csrf":"Yv3a9kPqZr8WmX2cT5nB7dLf0hJs4gKe","loginAt":1767225600}`
	for _, data := range []string{`{"n":1,"user":{"age":30}}`, user} {
		s := session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(data), IsNew: true}
		want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{SID: s.ID, Sess: s.Data, New: true, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}}).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		m := newMinter([]byte(testSecret), time.Minute)
		for range 3 { // pooled buffers and HMACs are reused cleanly
			if got := mustMint(t, m, &s, "", now); got != want {
				t.Fatalf("token\n%s\nwant\n%s", got, want)
			}
		}
		header, _ := base64.RawURLEncoding.DecodeString(strings.Split(want, ".")[0])
		if string(header) != `{"alg":"HS256","typ":"JWT"}` {
			t.Errorf("golang-jwt's header is %s", header)
		}
		if n := len(strings.Split(want, ".")[1]); (data == user) != (n >= 256) { // b64's threshold
			t.Errorf("claims of %d characters: not the encoder this case is for", n)
		}
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

// TestMintRecentTokens checks that a remembered token is only ever the
// token of the same session in the same second: a change to the id, the
// data (even in place, in the same slice), the newness or the second
// gives that session's own token.
func TestMintRecentTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMinter([]byte(testSecret), time.Minute)
	fresh := func(s *session.Session, at time.Time) string { // no memory
		return mustMint(t, newMinter([]byte(testSecret), time.Minute), s, "", at)
	}
	s := &session.Session{ID: "AAECAwQFBgcICQoLDA0ODw", Data: []byte(`{"n":1}`)}
	first := mustMint(t, m, s, "", now)
	steps := []struct {
		name   string
		change func()
		at     time.Time
	}{
		{"same session, same second", func() {}, now.Add(999 * time.Millisecond)},
		{"data changed in place", func() { s.Data[5] = '2' }, now},
		{"data replaced", func() { s.Data = []byte(`{"n":3}`) }, now},
		{"other id", func() { s.ID = "BBECAwQFBgcICQoLDA0ODw" }, now},
		{"new", func() { s.IsNew = true }, now},
		{"not new again", func() { s.IsNew = false }, now},
		{"next second", func() {}, now.Add(time.Second)},
		{"no data", func() { s.Data = nil }, now},
		{"empty object", func() { s.Data = []byte(`{}`) }, now},
	}
	for _, st := range steps {
		st.change()
		if got, want := mustMint(t, m, s, "", st.at), fresh(s, st.at); got != want {
			t.Fatalf("%s: token\n%s\nwant\n%s", st.name, got, want)
		}
	}
	s.ID, s.Data = "AAECAwQFBgcICQoLDA0ODw", []byte(`{"n":1}`)
	if got := mustMint(t, m, s, "", now); got != first {
		t.Fatalf("the first session again: %s, want %s", got, first)
	}
	// Other data that lands in the same slot: only the comparison of the
	// data tells the two tokens apart.
	slotOf := func(s *session.Session) uint64 { return m.hash(s, "") & uint64(len(m.recent)-1) }
	mustMint(t, m, s, "", now) // twice: remembered
	if m.recent[slotOf(s)].Load() == nil {
		t.Fatal("a session minted twice is not remembered")
	}
	other := &session.Session{ID: s.ID}
	for k := 2; slotOf(other) != slotOf(s); k++ {
		other.Data = []byte(`{"n":` + strconv.Itoa(k) + `}`)
	}
	if got, want := mustMint(t, m, other, "", now), fresh(other, now); got != want {
		t.Fatalf("data %s sharing a slot with %s: token\n%s\nwant\n%s", other.Data, s.Data, got, want)
	}
}

// TestMintRemembersOnSecondSight checks that a token is remembered from
// a session's second request on, not its first: a busy site's sessions
// are mostly not back within the reuse window.
func TestMintRemembersOnSecondSight(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMinter([]byte(testSecret), time.Minute)
	s := &session.Session{ID: session.NewID(), Data: []byte(`{"n":1}`)}
	slot := &m.recent[m.hash(s, "")&uint64(len(m.recent)-1)]
	mustMint(t, m, s, "", now)
	if slot.Load() != nil {
		t.Fatal("remembered after one request")
	}
	tok := mustMint(t, m, s, "", now)
	if r := slot.Load(); r == nil || r.token != tok {
		t.Fatalf("not remembered after two: %v", r)
	}
}

// TestMintRecentTokensConcurrent mints for a few sessions from many
// goroutines at once (go test -race): every token is its own session's.
func TestMintRecentTokensConcurrent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMinter([]byte(testSecret), time.Minute)
	var sessions []*session.Session
	var want []string
	for i := range 8 {
		s := &session.Session{ID: session.NewID(), Data: []byte(`{"i":` + string(rune('0'+i)) + `}`)}
		sessions = append(sessions, s)
		want = append(want, mustSign(t, m, s, "", now))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(sessions)
				if got, _ := m.mint(sessions[k], "", now); got != want[k] {
					t.Errorf("session %d: a token that is not its own", k)
					return
				}
			}
		})
	}
	wg.Wait()
}

func mustMint(t testing.TB, m *minter, s *session.Session, aud string, now time.Time) string {
	t.Helper()
	tok, err := m.mint(s, aud, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustSign(t testing.TB, m *minter, s *session.Session, aud string, now time.Time) string {
	t.Helper()
	tok, err := m.sign(s, aud, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
