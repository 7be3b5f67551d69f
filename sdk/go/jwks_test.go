package sessionproxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer serves a JWKS the test changes, counting its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	status  int
	fetches atomic.Int32
	hang    chan struct{} // when set, a fetch waits for it to close: a JWKS that hangs
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		hang := s.hang
		s.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != http.StatusOK {
			w.WriteHeader(s.status)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

// hold makes every fetch from now on wait until release is called: a JWKS
// that hangs.
func (s *jwksServer) hold(t *testing.T) (release func()) {
	hang := make(chan struct{})
	s.mu.Lock()
	s.hang = hang
	s.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(hang) }) }
	t.Cleanup(release)
	return release
}

// waitFetches waits, at most 5 s, until the JWKS has been fetched n times.
func (s *jwksServer) waitFetches(n int32) {
	for deadline := time.Now().Add(5 * time.Second); s.fetches.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func (s *jwksServer) publish(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

// signer is a generated key pair with its kid and JWK.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    any
	jwk    map[string]string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newEd25519(t *testing.T, kid string) signer {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid, jwt.SigningMethodEdDSA, priv, map[string]string{
		"kty": "OKP", "crv": "Ed25519", "x": b64(pub), "kid": kid, "use": "sig", "alg": "EdDSA"}}
}

func newP256(t *testing.T, kid string) signer {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := priv.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid, jwt.SigningMethodES256, priv, map[string]string{
		"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:]), "kid": kid, "use": "sig", "alg": "ES256"}}
}

func (s signer) mint(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if claims == nil {
		claims = jwt.MapClaims{"sid": "s1", "sess": map[string]any{"n": 1}, "new": false, "iss": Issuer,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["kid"] = s.kid
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable time for the key set.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func newJWKSManager(t *testing.T, url string) (*Manager, *clock) {
	t.Helper()
	m, err := New(Options{JWKSURL: url})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Now()}
	m.keys.now = c.Now
	return m, c
}

func TestJWKSVerifies(t *testing.T) {
	for _, s := range []signer{newEd25519(t, "ed"), newP256(t, "p256")} {
		t.Run(s.method.Alg(), func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.publish(newEd25519(t, "other").jwk, s.jwk)
			m, _ := newJWKSManager(t, srv.URL)
			for range 3 {
				c, err := m.Verify(t.Context(), s.mint(t, nil))
				if err != nil {
					t.Fatal(err)
				}
				if c.SID != "s1" || c.Session["n"] != json.Number("1") {
					t.Errorf("claims %+v", c)
				}
			}
			if n := srv.fetches.Load(); n != 1 {
				t.Errorf("%d fetches, want 1 (cached)", n)
			}

			// Another key under the same kid: a forgery.
			forger := newEd25519(t, s.kid)
			if s.method == jwt.SigningMethodES256 {
				forger = newP256(t, s.kid)
			}
			if _, err := m.Verify(t.Context(), forger.mint(t, nil)); !errors.Is(err, ErrSignature) {
				t.Errorf("forged: %v, want ErrSignature", err)
			}
		})
	}
}

func TestJWKSRefusals(t *testing.T) {
	ed, p := newEd25519(t, "ed"), newP256(t, "p256")
	srv := newJWKSServer(t)
	srv.publish(ed.jwk, p.jwk)
	m, _ := newJWKSManager(t, srv.URL)

	// An ES256 token naming the Ed25519 key's kid.
	wrongAlg := newP256(t, "ed").mint(t, nil)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sess": map[string]any{}, "iss": Issuer, "exp": time.Now().Add(time.Minute).Unix()})
	hsToken, _ := hs.SignedString([]byte("a secret the app does not have"))
	noKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sess": map[string]any{}, "iss": Issuer, "exp": time.Now().Add(time.Minute).Unix()})
	noKidToken, _ := noKid.SignedString(ed.key)
	expired := ed.mint(t, jwt.MapClaims{"sess": map[string]any{}, "iss": Issuer, "exp": time.Now().Add(-time.Minute).Unix()})

	tests := []struct {
		name, token string
		want        error
	}{
		{"alg of another key", wrongAlg, ErrAlg},
		{"HS256 without a secret", hsToken, ErrAlg},
		{"no kid", noKidToken, ErrKID},
		{"unknown kid", newEd25519(t, "nobody").mint(t, nil), ErrKID},
		{"expired", expired, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.Verify(t.Context(), tc.token); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A rotated key (an unknown kid) fetches the set again at once, even
// just after a fetch; unknown kids fetch at most once per minRefresh.
func TestJWKSRotationIsRateLimited(t *testing.T) {
	old, next := newEd25519(t, "old"), newP256(t, "next")
	srv := newJWKSServer(t)
	srv.publish(old.jwk)
	m, clk := newJWKSManager(t, srv.URL)
	if _, err := m.Verify(t.Context(), old.mint(t, nil)); err != nil {
		t.Fatal(err)
	}
	srv.publish(old.jwk, next.jwk)
	for range 3 { // the proxy rotated just after the first fetch
		if _, err := m.Verify(t.Context(), next.mint(t, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Forged kids soon after fetch nothing, however many.
	forged := newEd25519(t, "forged")
	for range 5 {
		if _, err := m.Verify(t.Context(), forged.mint(t, nil)); !errors.Is(err, ErrKID) {
			t.Fatalf("err = %v, want ErrKID", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	clk.Advance(m.keys.minRefresh)
	for range 3 { // one fetch per minRefresh
		if _, err := m.Verify(t.Context(), forged.mint(t, nil)); !errors.Is(err, ErrKID) {
			t.Fatalf("err = %v, want ErrKID", err)
		}
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
	if _, err := m.Verify(t.Context(), old.mint(t, nil)); err != nil {
		t.Errorf("the old key after the rotation: %v", err)
	}
}

// An unreachable JWKS is an outage (503), not a bad token; keys already
// known keep working.
func TestJWKSOutage(t *testing.T) {
	ed := newEd25519(t, "ed")
	srv := newJWKSServer(t)
	srv.status = http.StatusInternalServerError
	m, clk := newJWKSManager(t, srv.URL)
	if _, err := m.Verify(t.Context(), ed.mint(t, nil)); !errors.Is(err, ErrJWKS) {
		t.Fatalf("err = %v, want ErrJWKS", err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Session", ed.mint(t, nil))
	rec := httptest.NewRecorder()
	m.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}

	srv.mu.Lock()
	srv.status, srv.keys = http.StatusOK, []map[string]string{ed.jwk}
	srv.mu.Unlock()
	clk.Advance(m.keys.minRefresh)
	if _, err := m.Verify(t.Context(), ed.mint(t, nil)); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.status = http.StatusBadGateway
	srv.mu.Unlock()
	clk.Advance(2 * m.keys.maxAge) // old enough to fetch again, which fails
	if _, err := m.Verify(t.Context(), ed.mint(t, nil)); err != nil {
		t.Errorf("a known key during an outage: %v", err)
	}
}

// A fetch that hangs until its timeout is a failure like any other: the
// requests after it fail fast for minRefresh, counted from its end, and
// do not start another fetch that every request would wait for.
func TestJWKSHungFetchIsFollowedByACooldown(t *testing.T) {
	ed := newEd25519(t, "ed")
	srv := newJWKSServer(t)
	srv.status = http.StatusInternalServerError
	release := srv.hold(t)
	m, clk := newJWKSManager(t, srv.URL)

	first := make(chan error, 1)
	go func() {
		_, err := m.Verify(t.Context(), ed.mint(t, nil))
		first <- err
	}()
	srv.waitFetches(1)
	clk.Advance(m.keys.minRefresh) // the fetch hangs as long as the cooldown, then fails
	release()
	if err := <-first; !errors.Is(err, ErrJWKS) {
		t.Fatalf("the request that waited for the hung fetch: %v, want ErrJWKS", err)
	}

	for range 3 {
		if _, err := m.Verify(t.Context(), ed.mint(t, nil)); !errors.Is(err, ErrJWKS) {
			t.Errorf("just after the failure: %v, want ErrJWKS", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches just after the hung one failed, want 1: no request waits for a fetch that failed lately", n)
	}
	clk.Advance(m.keys.minRefresh)
	srv.mu.Lock()
	srv.status, srv.keys = http.StatusOK, []map[string]string{ed.jwk}
	srv.mu.Unlock()
	if _, err := m.Verify(t.Context(), ed.mint(t, nil)); err != nil {
		t.Errorf("a cooldown after the failure: %v", err)
	}
}

// A JWKS that hangs holds up no request whose key is known: an old set is
// fetched again in the background, and the old key verifies meanwhile. A
// request with an unknown kid waits for the fetch only as long as its own
// context allows.
func TestJWKSHangingFetchWaitsForNoKnownKey(t *testing.T) {
	ed, next := newEd25519(t, "ed"), newP256(t, "next")
	srv := newJWKSServer(t)
	srv.publish(ed.jwk)
	m, clk := newJWKSManager(t, srv.URL)
	if _, err := m.Verify(t.Context(), ed.mint(t, nil)); err != nil {
		t.Fatal(err)
	}
	srv.hold(t)
	clk.Advance(2 * m.keys.maxAge) // old: the next use fetches again, and that fetch hangs

	verified := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := m.Verify(t.Context(), ed.mint(t, nil))
			verified <- err
		}()
	}
	for range 3 {
		select {
		case err := <-verified:
			if err != nil {
				t.Fatalf("a known key while the JWKS hangs: %v", err)
			}
		case <-time.After(5 * time.Second): // a guard against a deadlock, not a speed check
			t.Fatal("Verify of a known key waited for the hanging JWKS fetch")
		}
	}
	m.keys.mu.Lock()
	inflight := m.keys.inflight != nil
	m.keys.mu.Unlock()
	if !inflight {
		t.Error("no fetch under way after a known key of an old set")
	}
	srv.waitFetches(2)
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2: one background fetch for all three", n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Verify(ctx, next.mint(t, nil)); !errors.Is(err, ErrJWKS) || !errors.Is(err, context.Canceled) {
		t.Errorf("an unknown kid, its request gone, while the JWKS hangs: %v, want ErrJWKS and context.Canceled", err)
	}
}

// Requests that arrive together with a rotated key all wait for the one
// fetch the first of them started: none is refused while it runs.
func TestJWKSRotationUnderConcurrentRequests(t *testing.T) {
	old, next := newEd25519(t, "old"), newP256(t, "next")
	srv := newJWKSServer(t)
	srv.publish(old.jwk)
	m, _ := newJWKSManager(t, srv.URL)
	if _, err := m.Verify(t.Context(), old.mint(t, nil)); err != nil {
		t.Fatal(err)
	}
	srv.publish(old.jwk, next.jwk)
	release := srv.hold(t)
	first := make(chan error, 1)
	go func() { _, err := m.Verify(t.Context(), next.mint(t, nil)); first <- err }()
	srv.waitFetches(2) // the first request's fetch reached the JWKS
	rest := make(chan error, 3)
	for range 3 {
		go func() { _, err := m.Verify(t.Context(), next.mint(t, nil)); rest <- err }()
	}
	waiting := 3
	select { // none can answer while the fetch hangs: a refused one would, at once
	case err := <-rest:
		t.Errorf("a request answered while the rotation's fetch was still running: %v", err)
		waiting--
	case <-time.After(50 * time.Millisecond):
	}
	release()
	for range waiting {
		if err := <-rest; err != nil {
			t.Errorf("a request during the rotation's fetch: %v", err)
		}
	}
	if err := <-first; err != nil {
		t.Errorf("the request that fetched: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2: one for the rotation", n)
	}
}

// A JWKS that cannot be fetched or read: ErrJWKS wraps the cause, so that
// errors.As finds the network error and errors.Is the JSON one.
func TestJWKSErrorWrapsTheCause(t *testing.T) {
	tests := []struct {
		name string
		url  func(t *testing.T) string
		want func(error) bool
	}{
		{"unreachable", func(t *testing.T) string {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close() // nothing listens there now
			return srv.URL
		}, func(err error) bool { var u *url.Error; return errors.As(err, &u) }},
		{"not JSON", func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{") }))
			t.Cleanup(srv.Close)
			return srv.URL
		}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{JWKSURL: tc.url(t)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Verify(t.Context(), newEd25519(t, "ed").mint(t, nil))
			if !errors.Is(err, ErrJWKS) || !tc.want(err) {
				t.Errorf("err = %v (%#v), want ErrJWKS wrapping the cause", err, err)
			}
		})
	}
}
