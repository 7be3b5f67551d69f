package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
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

// tokenHeader is the JWT's first segment, the same for every token:
// base64url of {"alg":"HS256","typ":"JWT"}, as golang-jwt writes it.
const tokenHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// minter mints session JWTs. It writes the claims JSON by hand, with the
// session data as it is (already a JSON object), and signs with pooled
// HMACs and buffers: what golang-jwt does with encoding/json and a new
// HMAC per token, without the reflection and the garbage. Any JWT library
// verifies its tokens (the tests use golang-jwt's parser).
//
// It remembers the last token of recent sessions: a token depends only on
// the session's id, data and newness and on the second it is issued, so a
// session that sends several requests in one second (a page load's
// parallel API calls) gets the very same token again without signing it.
type minter struct {
	ttl    time.Duration
	works  sync.Pool // *mintWork
	seed   maphash.Seed
	recent [recentTokens]atomic.Pointer[recentToken]
}

// recentTokens is the size of the minter's table of recent tokens, one
// per slot of a session's hash; a newer token replaces an older one.
const recentTokens = 1024

// recentToken is a token and everything it was minted from.
type recentToken struct {
	id, data string
	iat      int64
	token    string
}

// mintWork is what one mint uses, pooled together.
type mintWork struct {
	mac hash.Hash // HMAC-SHA256 keyed with the secret
	buf []byte
	sum [sha256.Size]byte // the MAC; here, so that it does not escape per token
}

func newMinter(secret []byte, ttl time.Duration) *minter {
	m := &minter{ttl: ttl, seed: maphash.MakeSeed()}
	m.works.New = func() any {
		return &mintWork{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 1024)}
	}
	return m
}

// mint returns the token for s issued at now: a recent one when it was
// minted from the same session in the same second, or a new one.
func (m *minter) mint(s *session.Session, now time.Time) string {
	if s.IsNew {
		return m.sign(s, now) // a fresh id: never seen before
	}
	iat := now.Unix()
	slot := m.slot(s)
	if t := slot.Load(); t != nil && t.iat == iat && t.id == s.ID && t.data == string(s.Data) {
		return t.token
	}
	tok := m.sign(s, now)
	slot.Store(&recentToken{id: s.ID, data: string(s.Data), iat: iat, token: tok})
	return tok
}

// slot returns where the recent token of s is kept.
func (m *minter) slot(s *session.Session) *atomic.Pointer[recentToken] {
	return &m.recent[(maphash.String(m.seed, s.ID)^maphash.Bytes(m.seed, s.Data))%recentTokens]
}

// sign mints the token for s issued at now. Its claims are in the order
// golang-jwt would write Claims: sid, sess, new, iss, exp, iat.
func (m *minter) sign(s *session.Session, now time.Time) string {
	w := m.works.Get().(*mintWork)
	defer m.works.Put(w)
	claims := w.buf[:0]
	claims = append(claims, '{')
	if s.ID != "" {
		claims = append(claims, `"sid":`...)
		claims = appendJSONString(claims, s.ID)
		claims = append(claims, ',')
	}
	claims = append(claims, `"sess":`...)
	if len(s.Data) == 0 {
		claims = append(claims, "{}"...)
	} else {
		claims = append(claims, s.Data...)
	}
	claims = append(claims, `,"new":`...)
	claims = strconv.AppendBool(claims, s.IsNew)
	claims = append(claims, `,"iss":"`+Issuer+`","exp":`...)
	claims = strconv.AppendInt(claims, now.Add(m.ttl).Unix(), 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	claims = append(claims, '}')

	// The token goes after the claims in the same buffer.
	enc := base64.RawURLEncoding
	start := len(claims)
	tok := append(claims, tokenHeader+"."...)
	tok = enc.AppendEncode(tok, claims[:start])
	w.mac.Reset()
	w.mac.Write(tok[start:])
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, w.mac.Sum(w.sum[:0]))
	w.buf = tok
	return string(tok[start:])
}

// appendJSONString appends s as a JSON string. Session ids are URL-safe
// base64, so the loop is the whole story; anything else goes through
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
