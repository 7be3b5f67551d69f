package sessionproxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// keySet is the proxy's public keys, fetched from its JWKS URL and cached
// by kid. A token with an unknown kid (the proxy rotated its key) makes it
// fetch again at once, even just after a fetch, but at most once per
// minRefresh, so that a stream of forged kids cannot turn the app into a
// load generator against the proxy. After a failed fetch it waits
// minRefresh, counted from the failure, before the next: a fetch that
// hung until its timeout is not followed at once by another one that
// every request waits for.
type keySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration // least time between two fetches
	maxAge     time.Duration // keys older than this are fetched again (a key may have been withdrawn)
	now        func() time.Time

	mu       sync.Mutex
	keys     map[string]publicKey
	fetched  time.Time     // start of the last successful fetch
	failed   time.Time     // end of the last attempt, when it failed
	forced   time.Time     // last fetch for an unknown kid
	lastErr  error         // of the last attempt
	inflight chan struct{} // closed when the fetch under way ends; nil when none is
}

// publicKey is one usable key of the set.
type publicKey struct {
	alg string // "EdDSA" or "ES256"
	key any    // ed25519.PublicKey or *ecdsa.PublicKey
}

func newKeySet(url string, client *http.Client) *keySet {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &keySet{url: url, client: client, minRefresh: 10 * time.Second, maxAge: time.Hour, now: time.Now}
}

// key returns the key named kid. A known key is returned at once; when
// the set is old, it is fetched again in the background, so that no
// request waits for the JWKS (nor for one that hangs), and the old key
// keeps verifying until then or while the JWKS is unreachable. An unknown
// kid waits for the fetch under way, or starts one unless one failed or
// found nothing lately: the requests that arrive with a rotated key while
// its first one fetches the set all wait for that fetch.
func (s *keySet) key(ctx context.Context, kid string) (publicKey, error) {
	s.mu.Lock()
	now := s.now()
	k, ok := s.keys[kid]
	fresh := !s.fetched.IsZero() && now.Sub(s.fetched) < s.maxAge
	failedLately := s.lastErr != nil && now.Sub(s.failed) < s.minRefresh
	if ok {
		if !fresh && !failedLately {
			s.fetchLocked(now)
		}
		s.mu.Unlock()
		return k, nil
	}
	var done <-chan struct{}
	if s.inflight != nil { // a fetch under way (a rotation's) may bring kid: wait for it
		done = s.inflight
	} else {
		if failedLately {
			err := s.lastErr
			s.mu.Unlock()
			return publicKey{}, fmt.Errorf("%w: %w", ErrJWKS, err)
		}
		if fresh && now.Sub(s.forced) < s.minRefresh {
			s.mu.Unlock()
			return publicKey{}, fmt.Errorf("%w: %q", ErrKID, kid)
		}
		if fresh {
			s.forced = now
		}
		done = s.fetchLocked(now)
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return publicKey{}, fmt.Errorf("%w: waiting for the key set: %w", ErrJWKS, context.Cause(ctx))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if s.lastErr != nil {
		return publicKey{}, fmt.Errorf("%w: %w", ErrJWKS, s.lastErr)
	}
	return publicKey{}, fmt.Errorf("%w: %q", ErrKID, kid)
}

// fetchLocked starts fetching the set, unless a fetch is under way, and
// returns a channel closed when it ends. s.mu must be held.
func (s *keySet) fetchLocked(now time.Time) <-chan struct{} {
	if s.inflight != nil {
		return s.inflight
	}
	done := make(chan struct{})
	s.inflight = done
	go func() {
		// No request's context: requests wait for this fetch, and its
		// failure holds for minRefresh.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		keys, err := s.fetch(ctx)
		cancel()
		s.mu.Lock()
		s.lastErr = err
		if err == nil {
			s.keys, s.fetched = keys, now
		} else {
			s.failed = s.now()
		}
		s.inflight = nil
		s.mu.Unlock()
		close(done)
	}()
	return done
}

// fetch reads the key set. Keys it cannot use (another kty or curve, use
// other than "sig", no kid) are left out.
func (s *keySet) fetch(ctx context.Context) (map[string]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", s.url, resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.url, err)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, j := range set.Keys {
		if k, err := j.publicKey(); err == nil && j.Kid != "" && (j.Use == "" || j.Use == "sig") {
			keys[j.Kid] = k
		}
	}
	return keys, nil
}

// jwk is the part of an RFC 7517 JSON Web Key that EdDSA (RFC 8037) and
// ES256 keys need.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (j jwk) publicKey() (publicKey, error) {
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519" && (j.Alg == "" || j.Alg == "EdDSA"):
		if errX != nil || len(x) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("bad Ed25519 x")
		}
		return publicKey{alg: "EdDSA", key: ed25519.PublicKey(x)}, nil
	case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == "ES256"):
		y, errY := base64.RawURLEncoding.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, errors.New("bad P-256 x or y")
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, err
		}
		return publicKey{alg: "ES256", key: k}, nil
	}
	return publicKey{}, errors.New("unsupported key")
}
