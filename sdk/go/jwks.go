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
// minRefresh before the next.
type keySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration // least time between two fetches
	maxAge     time.Duration // keys older than this are fetched again (a key may have been withdrawn)
	now        func() time.Time

	mu      sync.Mutex // held during a fetch, so that concurrent misses wait for one fetch
	keys    map[string]publicKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	forced  time.Time // last fetch for an unknown kid
	lastErr error     // of the last attempt
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

// key returns the key named kid, fetching the set when kid is unknown or
// the set is old and the last attempt is not too recent.
func (s *keySet) key(ctx context.Context, kid string) (publicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k, ok := s.keys[kid]
	fresh := !s.fetched.IsZero() && now.Sub(s.fetched) < s.maxAge
	if ok && fresh {
		return k, nil
	}
	failedLately := s.lastErr != nil && now.Sub(s.tried) < s.minRefresh
	unknownLately := !ok && fresh && now.Sub(s.forced) < s.minRefresh
	if failedLately || unknownLately {
		switch {
		case ok:
			return k, nil
		case s.lastErr != nil:
			return publicKey{}, fmt.Errorf("%w: %v", ErrJWKS, s.lastErr)
		default:
			return publicKey{}, fmt.Errorf("%w: %q", ErrKID, kid)
		}
	}
	if !ok && fresh {
		s.forced = now
	}
	s.tried = now
	// Not the request's own cancellation: other requests wait for this
	// fetch, and a failure holds for minRefresh.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	keys, err := s.fetch(ctx)
	s.lastErr = err
	if err != nil {
		if ok { // an old key still verifies while the proxy is unreachable
			return k, nil
		}
		return publicKey{}, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	s.keys, s.fetched = keys, now
	if k, ok = keys[kid]; !ok {
		return publicKey{}, fmt.Errorf("%w: %q", ErrKID, kid)
	}
	return k, nil
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
		return nil, fmt.Errorf("GET %s: %v", s.url, err)
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
