package sessionproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the "iss" claim of every token sessionproxy mints.
const Issuer = "sessionproxy"

// The reasons a token is refused. Every error from Verify wraps exactly
// one of them (test with errors.Is), and its message names the reason.
var (
	ErrMalformed = errors.New("sessionproxy: token malformed")
	ErrAlg       = errors.New("sessionproxy: token alg not allowed")
	ErrSignature = errors.New("sessionproxy: token signature invalid")
	ErrExpired   = errors.New("sessionproxy: token expired")
	ErrIssuer    = errors.New("sessionproxy: token issuer wrong")
	ErrAudience  = errors.New("sessionproxy: token audience wrong")
	ErrKID       = errors.New("sessionproxy: token kid unknown")
	// ErrJWKS means the key set could not be fetched: an outage, not a
	// bad token. The middleware answers it with 503, not 401.
	ErrJWKS = errors.New("sessionproxy: JWKS unavailable")
)

// Claims are a verified token's claims.
type Claims struct {
	// SID is the session id; empty when the proxy uses the koa cookie
	// format, whose cookies carry no id.
	SID string
	// Session is the session data ("sess"), a JSON object decoded with
	// numbers as json.Number, so that large integers survive. It is the
	// map Raw["sess"] holds.
	Session map[string]any
	// New is true when the session did not exist before this request.
	New bool
	// Issuer is "iss", always Issuer.
	Issuer string
	// Audience is "aud" (a string or a list in the token), if any.
	Audience []string
	// IssuedAt and ExpiresAt are "iat" and "exp".
	IssuedAt, ExpiresAt time.Time
	// Raw holds every claim as the token carries it, numbers as
	// json.Number.
	Raw map[string]any
}

// Verify checks token with opts, as a Manager built from opts does, and
// returns its claims. A Manager keeps the JWKS it fetched between calls;
// this builds one per call, so use it for a one-off check.
func Verify(ctx context.Context, token string, opts Options) (*Claims, error) {
	m, err := New(opts)
	if err != nil {
		return nil, err
	}
	return m.Verify(ctx, token)
}

// Verify checks token and returns its claims, or an error wrapping one of
// ErrMalformed, ErrAlg, ErrSignature, ErrExpired, ErrIssuer, ErrAudience,
// ErrKID or ErrJWKS. The checks run in this order: three base64url parts
// whose header is a JSON object; an allowed alg (HS256 with a secret,
// EdDSA or ES256 with a JWKS, never "none"); a known kid (JWKS only); the
// signature, compared in constant time (HS256: with Options.Secret, then
// each of Options.OldSecrets); a JSON object
// payload with a "sess" object; exp, with the leeway; iss; aud, when an
// audience is configured.
func (m *Manager) Verify(ctx context.Context, token string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformed, len(parts))
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	method, keys, err := m.keysFor(ctx, header.Alg, header.Kid)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrSignature)
	}
	signed := parts[0] + "." + parts[1]
	if !slices.ContainsFunc(keys, func(key any) bool { return method.Verify(signed, sig, key) == nil }) {
		return nil, ErrSignature
	}

	c := &Claims{}
	if err := decodeSegment(parts[1], &c.Raw); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := c.fill(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if now := time.Now(); !now.Before(c.ExpiresAt.Add(m.leeway)) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if c.Issuer != Issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, c.Issuer)
	}
	if m.opts.Audience != "" && !slices.Contains(c.Audience, m.opts.Audience) {
		return nil, fmt.Errorf("%w: want %q, token is for %q", ErrAudience, m.opts.Audience, c.Audience)
	}
	return c, nil
}

// keysFor returns the signing method and the keys, in the order to try
// them, that may verify a token whose header names alg and kid: for
// HS256 the secret, then the old secrets.
func (m *Manager) keysFor(ctx context.Context, alg, kid string) (jwt.SigningMethod, []any, error) {
	switch alg {
	case "HS256":
		if m.secrets == nil {
			return nil, nil, fmt.Errorf("%w: HS256 without a secret configured", ErrAlg)
		}
		return jwt.SigningMethodHS256, m.secrets, nil
	case "EdDSA", "ES256":
		if m.keys == nil {
			return nil, nil, fmt.Errorf("%w: %s without a JWKS URL configured", ErrAlg, alg)
		}
		if kid == "" {
			return nil, nil, fmt.Errorf("%w: no kid in the token", ErrKID)
		}
		k, err := m.keys.key(ctx, kid)
		if err != nil {
			return nil, nil, err
		}
		if k.alg != alg {
			return nil, nil, fmt.Errorf("%w: token says %s, key %q is for %s", ErrAlg, alg, kid, k.alg)
		}
		return jwt.GetSigningMethod(alg), []any{k.key}, nil
	default:
		return nil, nil, fmt.Errorf("%w: %q", ErrAlg, alg)
	}
}

// fill sets c's fields from its Raw claims, decoded once.
func (c *Claims) fill() error {
	var ok bool
	if c.Session, ok = c.Raw["sess"].(map[string]any); !ok {
		return errors.New(`"sess" is missing or not a JSON object`)
	}
	if v, present := c.Raw["sid"]; present {
		if c.SID, ok = v.(string); !ok {
			return errors.New(`"sid" is not a string`)
		}
	}
	if v, present := c.Raw["new"]; present {
		if c.New, ok = v.(bool); !ok {
			return errors.New(`"new" is not a boolean`)
		}
	}
	if v, present := c.Raw["iss"]; present {
		if c.Issuer, ok = v.(string); !ok {
			return errors.New(`"iss" is not a string`)
		}
	}
	var err error
	if c.ExpiresAt, err = numericDate(c.Raw, "exp"); err != nil {
		return err
	}
	if _, present := c.Raw["iat"]; present {
		if c.IssuedAt, err = numericDate(c.Raw, "iat"); err != nil {
			return err
		}
	}
	switch aud := c.Raw["aud"].(type) {
	case nil:
		if _, present := c.Raw["aud"]; present {
			return errors.New(`"aud" is neither a string nor a list of strings`)
		}
	case string:
		c.Audience = []string{aud}
	case []any:
		c.Audience = make([]string, 0, len(aud))
		for _, a := range aud {
			one, ok := a.(string)
			if !ok {
				return errors.New(`"aud" is neither a string nor a list of strings`)
			}
			c.Audience = append(c.Audience, one)
		}
	default:
		return errors.New(`"aud" is neither a string nor a list of strings`)
	}
	return nil
}

// numericDate reads a JWT NumericDate claim, which must be present.
func numericDate(raw map[string]any, name string) (time.Time, error) {
	n, ok := raw[name].(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is missing or not a number", name)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a number", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

// decodeSegment decodes a base64url JWT segment holding a JSON object.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	if err := decodeStrict(b, v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// decodeStrict decodes exactly one JSON value, numbers as json.Number.
func decodeStrict(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
