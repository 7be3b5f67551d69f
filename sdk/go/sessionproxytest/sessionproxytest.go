// Package sessionproxytest helps unit-test handlers behind sessionproxy's
// middleware without the proxy: it mints the tokens the proxy would send
// and reads the directives a handler answered with.
package sessionproxytest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
	// Set is the X-Session-Set merge patch; nil when there is none. With
	// several X-Session-Set headers (the proxy applies them in order) it
	// is the first; read them all with h.Values.
	Set map[string]any
	// Destroy and Renew are X-Session-Destroy and X-Session-Renew ("true"
	// or "1"). X-Session-Destroy "all" sets Destroy and DestroyOthers,
	// "others" only DestroyOthers: the user's other sessions end.
	Destroy, Renew, DestroyOthers bool
	// MaxAge is X-Session-Max-Age: milliseconds in decimal, as the proxy
	// reads them ("+060000" gives "60000"), "session", or "".
	MaxAge string
}

// ReadDirectives reads the directives in h, a response's headers (a
// httptest.ResponseRecorder's Header() or Result().Header).
func ReadDirectives(h http.Header) (Directives, error) {
	return ReadDirectivesFor(h, "X-Session")
}

// ReadDirectivesFor is ReadDirectives for a Manager whose Options.Header
// is header, which names the directives (header+"-Set", ...). Names are
// matched as the proxy reads them off the wire, canonicalized.
//
// It refuses what the proxy answers with 502, applying nothing, with an
// error naming the header: an X-Session-Set that is not a JSON object,
// nests objects and arrays deeper than 32 or names a top-level key
// starting with "_"; a Destroy other than "true", "1", "others" or "all";
// a Renew other than "true" or "1"; a Max-Age that is neither a positive
// number of milliseconds (at most 100 years) nor "session"; any other
// header named header+"-..." (or with "_", in any case: a typo such as
// X-Session-Sett); and more than 100 such header values, the token
// included, or more than 1 MiB of them.
func ReadDirectivesFor(h http.Header, header string) (Directives, error) {
	d, _, err := read(h, header)
	return d, err
}

// Apply returns the session data the proxy keeps once it applied the
// directives in h, a response's headers, to data, the session the
// request's token carried (data itself is left as it is): empty when the
// response destroys the session, then every X-Session-Set in order, as a
// merge patch. The next request's token carries it, with a new id after
// a destroy or a renew (Directives tell). It refuses what ReadDirectives
// refuses, a response of which the proxy applies nothing.
func Apply(data map[string]any, h http.Header) (map[string]any, error) {
	return ApplyFor(data, h, "X-Session")
}

// ApplyFor is Apply for a Manager whose Options.Header is header.
func ApplyFor(data map[string]any, h http.Header, header string) (map[string]any, error) {
	d, sets, err := read(h, header)
	if err != nil {
		return nil, err
	}
	return apply(data, d, sets), nil
}

// ApplySession plays the proxy across requests: it returns the session
// the next request's token carries once the proxy applied the directives
// in h to s, the session of the request's token (s.Header names them).
// Data is as Apply gives it. New stays true while the proxy has not
// saved the session: it saves a new one, or the one a destroy starts,
// when the response leaves it with data, renews it or gives it a max age,
// and a destroy with neither a set nor a max age only ends the session.
// ID is a new random one after a destroy, after a renew of a saved
// session, and whenever New stays true: the proxy keeps no empty new
// session, so nothing remembers its id, and a new session it saves keeps
// the id its request came with, renewed or not. It refuses what
// ReadDirectives refuses.
func ApplySession(s Session, h http.Header) (Session, error) {
	header := s.Header
	if header == "" {
		header = "X-Session"
	}
	d, sets, err := read(h, header)
	if err != nil {
		return Session{}, err
	}
	renewed := d.Renew && !s.New // a new session saved keeps its id
	s.Data = apply(s.Data, d, sets)
	if d.Destroy {
		s.New = true
	}
	ended := d.Destroy && len(sets) == 0 && d.MaxAge == ""
	if !ended && (len(s.Data) > 0 || d.Renew || d.MaxAge != "") {
		s.New = false // saved: the proxy saves no new session left empty
	}
	if d.Destroy || renewed || s.New {
		s.ID = rand.Text()
	}
	return s, nil
}

// apply returns data with the directives d and the patches sets applied.
func apply(data map[string]any, d Directives, sets []map[string]any) map[string]any {
	out := map[string]any{}
	if !d.Destroy {
		out = mergePatch(nil, data).(map[string]any)
	}
	for _, patch := range sets {
		out = mergePatch(out, patch).(map[string]any)
	}
	return out
}

// mergePatch applies the RFC 7396 merge patch patch to target and returns
// the result, sharing no map with target it had to change.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, _ := target.(map[string]any)
	out := make(map[string]any, len(t)+len(p))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

// read is ReadDirectivesFor, with every X-Session-Set patch in order.
func read(h http.Header, header string) (Directives, []map[string]any, error) {
	var d Directives
	var sets []map[string]any
	header = http.CanonicalHeaderKey(header)
	count, size := 0, 0
	for name, values := range h {
		if !ownHeader(name, header) {
			continue
		}
		for _, v := range values {
			size += len(v)
		}
		switch count += len(values); {
		case count > maxDirectives:
			return Directives{}, nil, fmt.Errorf("sessionproxytest: %s: more than %d session headers in one response", name, maxDirectives)
		case size > maxDirectiveBytes:
			return Directives{}, nil, fmt.Errorf("sessionproxytest: %s: the session headers of one response are longer than %d bytes", name, maxDirectiveBytes)
		}
		switch http.CanonicalHeaderKey(name) {
		case header:
			// The token, echoed back: the proxy drops it.
		case header + "-Set":
			for _, v := range values {
				if tooDeep(v) {
					return Directives{}, nil, fmt.Errorf("sessionproxytest: %s nests objects and arrays deeper than %d", name, maxDepth)
				}
				var patch map[string]any
				if err := json.Unmarshal([]byte(v), &patch); err != nil || patch == nil {
					return Directives{}, nil, fmt.Errorf("sessionproxytest: %s %q is not a JSON object", name, v)
				}
				for k := range patch {
					if strings.HasPrefix(k, "_") {
						return Directives{}, nil, fmt.Errorf("sessionproxytest: %s sets %q: top-level keys starting with \"_\" are reserved for the proxy", name, k)
					}
				}
				if d.Set == nil {
					d.Set = patch
				}
				sets = append(sets, patch)
			}
		case header + "-Destroy":
			for _, v := range values {
				switch strings.TrimSpace(v) {
				case "true", "1":
					d.Destroy = true
				case "others":
					d.DestroyOthers = true
				case "all":
					d.Destroy, d.DestroyOthers = true, true
				default:
					return Directives{}, nil, fmt.Errorf(`sessionproxytest: %s %q: want "true", "1", "others" or "all"`, name, v)
				}
			}
		case header + "-Renew":
			for _, v := range values {
				if t := strings.TrimSpace(v); t != "true" && t != "1" {
					return Directives{}, nil, fmt.Errorf(`sessionproxytest: %s %q: want "true" or "1"`, name, v)
				}
				d.Renew = true
			}
		case header + "-Max-Age":
			for _, v := range values {
				if t := strings.TrimSpace(v); t == "session" {
					d.MaxAge = t
				} else if ms, err := strconv.ParseInt(t, 10, 64); err == nil && ms > 0 && ms <= maxMaxAgeMS {
					d.MaxAge = strconv.FormatInt(ms, 10)
				} else {
					return Directives{}, nil, fmt.Errorf(`sessionproxytest: %s %q: want a positive number of milliseconds (at most 100 years) or "session"`, name, v)
				}
			}
		default:
			return Directives{}, nil, fmt.Errorf("sessionproxytest: %s: unknown session directive", name)
		}
	}
	return d, sets, nil
}

// The proxy's limits (proxy.MaxDirectives, proxy.MaxDirectiveBytes and
// session.MaxDepth): past one, it answers 502.
const (
	maxDirectives     = 100     // header values named after the token's header
	maxDirectiveBytes = 1 << 20 // their total length
	maxDepth          = 32      // nesting of an X-Session-Set, its object counting as 1
)

// maxMaxAgeMS is the longest X-Session-Max-Age the proxy accepts, 100
// years in milliseconds.
const maxMaxAgeMS = int64(100 * 365 * 24 * time.Hour / time.Millisecond)

// tooDeep reports whether v, JSON or any text, nests objects and arrays
// deeper than maxDepth outside its strings, as the proxy counts before
// parsing.
func tooDeep(v string) bool {
	depth := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > maxDepth {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// ownHeader reports whether name is one of the proxy's headers: header,
// or header followed by "-" or "_" and more, in any case, "_" for "-".
func ownHeader(name, header string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	name, header = norm(name), norm(header)
	return name == header || strings.HasPrefix(name, header+"-")
}
