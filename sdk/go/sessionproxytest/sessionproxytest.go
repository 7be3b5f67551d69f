// Package sessionproxytest helps unit-test handlers behind sessionproxy's
// middleware without the proxy: it mints the tokens the proxy would send
// and reads the directives a handler answered with.
package sessionproxytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Session is what a minted token carries.
type Session struct {
	// ID is "sid". Default "test-session-id".
	ID string
	// Data is "sess", the session data. Default {}.
	Data map[string]any
	// New is "new": the session did not exist before this request.
	New bool
	// Audience, when set, is "aud".
	Audience string
	// TTL is how long the token is valid. Default 60 s, as the proxy's;
	// a negative TTL mints a token that expired that long ago. A Manager
	// still accepts one within its Leeway (DefaultLeeway, 5 s), so a test
	// of the refusal wants a TTL beyond it, such as -time.Minute.
	TTL time.Duration
	// Issuer is "iss". Default "sessionproxy".
	Issuer string
	// Header is the request header NewRequest puts the token in: the
	// Manager's Options.Header. Default "X-Session".
	Header string
}

// MintToken returns an HS256 token for s, signed with secret, as the
// proxy mints them.
func MintToken(secret string, s Session) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("sessionproxytest: empty secret")
	}
	if s.ID == "" {
		s.ID = "test-session-id"
	}
	if s.Data == nil {
		s.Data = map[string]any{}
	}
	if s.TTL == 0 {
		s.TTL = time.Minute
	}
	if s.Issuer == "" {
		s.Issuer = "sessionproxy"
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sid":  s.ID,
		"sess": s.Data,
		"new":  s.New,
		"iss":  s.Issuer,
		"iat":  now.Unix(),
		"exp":  now.Add(s.TTL).Unix(),
	}
	if s.Audience != "" {
		claims["aud"] = s.Audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// NewRequest is httptest.NewRequest with a token for s in its
// X-Session header (s.Header). Like httptest.NewRequest, it panics on
// error.
func NewRequest(secret, method, target string, s Session) *http.Request {
	token, err := MintToken(secret, s)
	if err != nil {
		panic(err)
	}
	header := s.Header
	if header == "" {
		header = "X-Session"
	}
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set(header, token)
	return r
}

// Directives are the session directives of a response.
type Directives struct {
	// Set is the X-Session-Set merge patch; nil when there is none.
	Set map[string]any
	// Destroy and Renew are X-Session-Destroy and X-Session-Renew.
	Destroy, Renew bool
	// MaxAge is X-Session-Max-Age: milliseconds, "session", or "".
	MaxAge string
}

// ReadDirectives reads the directives in h, a response's headers (a
// httptest.ResponseRecorder's Header() or Result().Header).
func ReadDirectives(h http.Header) (Directives, error) {
	return ReadDirectivesFor(h, "X-Session")
}

// ReadDirectivesFor is ReadDirectives for a Manager whose Options.Header
// is header, which names the directives (header+"-Set", ...).
func ReadDirectivesFor(h http.Header, header string) (Directives, error) {
	var d Directives
	if set := h.Get(header + "-Set"); set != "" {
		if err := json.Unmarshal([]byte(set), &d.Set); err != nil || d.Set == nil {
			return d, fmt.Errorf("sessionproxytest: %s-Set %q is not a JSON object", header, set)
		}
	}
	d.Destroy = h.Get(header+"-Destroy") == "true"
	d.Renew = h.Get(header+"-Renew") == "true"
	d.MaxAge = h.Get(header + "-Max-Age")
	return d, nil
}
