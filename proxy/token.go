package proxy

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/session"
)

// Issuer is the JWT's "iss" claim.
const Issuer = "sessionproxy"

// Claims are the claims of the session JWT the upstream receives.
type Claims struct {
	// SID is the session id; empty (and omitted) in the koa cookie
	// format, whose cookies have no id.
	SID string `json:"sid,omitempty"`
	// Sess is the session data, a JSON object.
	Sess json.RawMessage `json:"sess"`
	// New is true when the session did not exist before this request.
	New bool `json:"new"`
	jwt.RegisteredClaims
}

// token mints the JWT that carries s to the upstream.
func (p *Proxy) token(s *session.Session) (string, error) {
	now := time.Now()
	c := Claims{
		SID:  s.ID,
		Sess: s.Data,
		New:  s.IsNew,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(p.opts.TokenTTL)),
		},
	}
	t, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(p.opts.TokenSecret)
	if err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return t, nil
}
