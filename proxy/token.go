package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/internal/b64"
	"github.com/sessionproxy/sessionproxy/proxy/token"
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

// tokenHeader is the JWT's first segment of every HS256 token:
// base64url of {"alg":"HS256","typ":"JWT"}, as golang-jwt writes it.
const tokenHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// minter mints session JWTs. It writes the claims JSON by hand, with the
// session data as it is (already a JSON object), and signs HS256 with
// pooled HMACs and buffers: what golang-jwt does with encoding/json and a
// new HMAC per token, without the reflection and the garbage. With a
// token.Key it signs EdDSA or ES256 instead, through golang-jwt's signing
// methods, and names the key in the header's kid. Any JWT library
// verifies its tokens (the tests use golang-jwt's parser).
//
// It remembers the last token of recent sessions, so that a session's
// repeated requests do not pay a signature each: a token depends only on
// the session's id, data and newness, the audience, the key and the
// second it is issued, so a remembered token of the same session, data
// and audience, issued less than reuse ago, is handed out again.
type minter struct {
	ttl    time.Duration
	key    *token.Key // nil: HS256 with the pooled HMACs
	header string     // the JWT's first segment
	// reuse is how long, in whole seconds, a remembered token is handed
	// out again: 1 for HS256, the same second, where the token is the
	// very one signing would give; for a key, a quarter of the ttl
	// (at least 1), because an Ed25519 or P-256 signature costs tens of
	// microseconds, several times a whole read request, and a quarter
	// still leaves the upstream at least three quarters of the ttl.
	reuse int64
	works sync.Pool // *mintWork
	seed  maphash.Seed
	// recent is the table of recent tokens, one per slot of a session's
	// hash; a newer token replaces an older one.
	recent []atomic.Pointer[recentToken]
	// seen (HS256 only): an HS256 token is remembered when the same
	// session, data and audience is signed a second time. Remembering
	// costs a copy of the session's data, about what signing again costs,
	// for nothing when the session is not back within the second, as most
	// of a busy site's are not. A key's signature costs tens of times
	// more, so its tokens are remembered at once.
	seen secondSight
}

// The sizes of the minter's table of recent tokens. An HS256 token is
// remembered for a second and costs about a microsecond to sign again;
// a key's is remembered for a quarter of the ttl and costs tens, so its
// table holds more sessions: those active within that quarter, up to its
// size. Powers of two, so that a slot is a mask of the hash.
const (
	recentTokens    = 1 << 10
	recentKeyTokens = 1 << 14
)

// recentToken is a token and everything it was minted from.
type recentToken struct {
	id, data, aud string
	iat           int64
	token         string
}

// mintWork is what one mint uses, pooled together.
type mintWork struct {
	mac hash.Hash // HMAC-SHA256 keyed with the secret; nil with a key
	buf []byte
	sum [sha256.Size]byte // the MAC; here, so that it does not escape per token
}

// newMinter returns a minter of HS256 tokens signed with secret.
func newMinter(secret []byte, ttl time.Duration) *minter {
	m := &minter{ttl: ttl, header: tokenHeader, reuse: 1, seed: maphash.MakeSeed(),
		recent: make([]atomic.Pointer[recentToken], recentTokens), seen: make(secondSight, recentTokens)}
	m.works.New = func() any {
		return &mintWork{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 1024)}
	}
	return m
}

// newKeyMinter returns a minter of tokens signed with key (EdDSA or
// ES256), whose header names the key's id.
func newKeyMinter(key *token.Key, ttl time.Duration) *minter {
	m := &minter{
		ttl: ttl, key: key, header: key.Header(), reuse: max(1, int64(ttl/4/time.Second)),
		seed: maphash.MakeSeed(), recent: make([]atomic.Pointer[recentToken], recentKeyTokens),
	}
	m.works.New = func() any { return &mintWork{buf: make([]byte, 0, 1024)} }
	return m
}

// newTokenMinter returns the minter o asks for: with o.TokenKey, or
// HS256 with o.TokenSecret.
func newTokenMinter(o Options) *minter {
	if o.TokenKey != nil {
		return newKeyMinter(o.TokenKey, o.TokenTTL)
	}
	return newMinter(o.TokenSecret, o.TokenTTL)
}

// mint returns the token for s issued at now for the audience aud ("":
// none): a recent one when it was minted from the same session, data and
// audience less than m.reuse ago, or a new one.
func (m *minter) mint(s *session.Session, aud string, now time.Time) (string, error) {
	if s.IsNew {
		return m.sign(s, aud, now) // a fresh id: never seen before
	}
	iat := now.Unix()
	h := m.hash(s, aud)
	i := h & uint64(len(m.recent)-1)
	slot := &m.recent[i]
	if t := slot.Load(); t != nil && iat >= t.iat && iat-t.iat < m.reuse && t.id == s.ID && t.data == string(s.Data) && t.aud == aud {
		return t.token, nil
	}
	tok, err := m.sign(s, aud, now)
	if err != nil {
		return "", err
	}
	if m.seen == nil || m.seen.again(i, h) {
		slot.Store(&recentToken{id: s.ID, data: string(s.Data), aud: aud, iat: iat, token: tok})
	}
	return tok, nil
}

// secondSight tells, per slot of a table of recent values, whether a
// value is seen there the second time in a row: the minter remembers a
// token only then, since most of a busy site's sessions are not back
// before their slot is taken, and remembering one costs a copy.
type secondSight []atomic.Uint64

// again records h, a value's hash, as the last seen in slot i, and
// reports whether it was already. A false match (another value's hash)
// only remembers a value sooner.
func (s secondSight) again(i, h uint64) bool {
	h |= 1 // never 0, an empty slot
	return s[i].Swap(h) == h
}

// hash is the hash of a token's session, data and audience, which picks
// its slot in the table of recent tokens.
func (m *minter) hash(s *session.Session, aud string) uint64 {
	h := maphash.String(m.seed, s.ID) ^ maphash.Bytes(m.seed, s.Data)
	if aud != "" {
		h ^= maphash.String(m.seed, aud)
	}
	return h
}

// sign mints the token for s issued at now. Its claims are in the order
// golang-jwt would write Claims: sid, sess, new, iss, aud, exp, iat.
func (m *minter) sign(s *session.Session, aud string, now time.Time) (string, error) {
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
	claims = append(claims, `,"iss":"`+Issuer+`"`...)
	if aud != "" {
		// A single audience as a string, which every JWT library
		// accepts (RFC 7519 4.1.3).
		claims = append(claims, `,"aud":`...)
		claims = appendJSONString(claims, aud)
	}
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, now.Add(m.ttl).Unix(), 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	claims = append(claims, '}')

	// The token goes after the claims in the same buffer.
	start := len(claims)
	tok := append(claims, m.header...)
	tok = append(tok, '.')
	tok = b64.RawURL.AppendEncode(tok, claims[:start])
	var sig []byte
	if m.key != nil {
		var err error
		if sig, err = m.key.Sign(string(tok[start:])); err != nil {
			w.buf = tok
			return "", fmt.Errorf("proxy: signing the session token with key %s: %w", m.key.ID, err)
		}
	} else {
		w.mac.Reset()
		w.mac.Write(tok[start:])
		sig = w.mac.Sum(w.sum[:0])
	}
	tok = append(tok, '.')
	tok = b64.RawURL.AppendEncode(tok, sig)
	w.buf = tok
	return string(tok[start:]), nil
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
