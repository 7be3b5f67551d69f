package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Options configures a Manager. Zero fields take the documented defaults,
// which are koa-session's own.
type Options struct {
	// Name is the session cookie's name. Default DefaultName.
	Name string
	// Keys are koa's app.keys: the first signs or encrypts, every one
	// verifies, so putting a new key first logs nobody out. Required.
	Keys []string
	// Format is the cookie format. Default FormatSecure.
	Format Format
	// Unsigned turns off the koa format's signature (koa-session's
	// signed: false). Ignored by FormatSecure, which is always
	// authenticated.
	Unsigned bool
	// KeygripAlgorithm is the koa format's signature hash, keygrip's
	// algorithm (app.keys = new Keygrip(keys, "sha256")): "sha1" (the
	// default, keygrip's), "sha256", "sha384" or "sha512".
	KeygripAlgorithm string
	// MaxAge is how long a session lives. Default DefaultMaxAge.
	MaxAge MaxAge
	// Cookie holds the cookie attributes: Path (default "/"), Domain,
	// HttpOnly, Secure and SameSite. Name, Value and Expires are ignored.
	Cookie http.Cookie
	// SecureAuto marks the cookie Secure when the request reached the
	// deployment over HTTPS (SecureRequest), whatever Cookie.Secure says.
	SecureAuto bool
	// SecureRequest reports whether a request reached the deployment
	// over HTTPS, for SecureAuto (proxy.TrustedProxies.IsHTTPS also
	// believes a trusted load balancer's X-Forwarded-Proto). Default:
	// the request came over TLS.
	SecureRequest func(*http.Request) bool
	// Rolling re-issues the cookie on every response (koa's rolling).
	Rolling bool
	// Renew re-issues the cookie when less than half of its maxAge is
	// left (koa's renew).
	Renew bool
	// NoOverwrite turns off koa's overwrite: by default a session cookie
	// the proxy sets replaces any Set-Cookie of the same name (or its
	// .sig) already in the response, as cookies 0.9 does with
	// overwrite: true; with NoOverwrite both are sent.
	NoOverwrite bool
	// Store keeps sessions on the server; the cookie then holds only the
	// id. Nil keeps the whole session in the cookie.
	Store Store
	// TrustStore says that only Managers of this process write Store's
	// records, as with a MemoryStore: the Manager then reads a record
	// back as it reads a secure cookie it sealed, from the bookkeeping at
	// its end, without validating the JSON again (about 0.5 µs of a
	// signed-in user's cold read). Leave it false for a store that other
	// programs write too, such as a Redis shared with a Koa app: their
	// records are validated, and a malformed one is refused.
	TrustStore bool
	// IDPrefix starts every new session id: koa-session's prefix option.
	// In the koa format with a store the cookie's value is the id and is
	// also the store key koa-session uses, so the prefix appears in both.
	IDPrefix string
	// IdleTimeout ends a session not used for this long; 0 turns it off.
	// Use extends it, and the extension is written (the cookie re-issued,
	// or the store's record refreshed) at most once per tenth of it, so
	// that a busy session is not written on every request.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it started or was
	// last renewed (Change.Renew), whatever its use, Rolling or Renew;
	// 0 turns it off.
	AbsoluteTimeout time.Duration
	// UserKey is a dotted path into the session data, such as "user.id",
	// whose value (a string or a number) names the session's user. With
	// it, Users indexes sessions by user, so that Change.DestroyOthers
	// and the Manager's user methods can end them. It needs a Store.
	UserKey string
	// Users is the index of sessions by user that UserKey needs: the
	// Store itself, when it implements UserIndex.
	Users UserIndex
	// MaxBytes bounds the session data, as JSON: a change that would grow
	// it past MaxBytes is refused with ErrSessionTooLarge and nothing is
	// written, so that a session never grows too large to be forwarded
	// in the token. 0: no bound beyond the cookie's.
	MaxBytes int
	// HandleKey keys the opaque handles of the admin listing (Handle).
	// Default: derived from Keys[0].
	HandleKey []byte
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// DefaultName is koa-session's default cookie name (its key option).
const DefaultName = "koa.sess"

// StoreGrace is added to a session's maxAge for the store's expiry, as
// koa-session does, so that the entry outlives the cookie.
const StoreGrace = 10 * time.Second

// Manager loads sessions from requests and commits the upstream's changes
// to cookies and the store.
type Manager struct {
	opts  Options
	codec codec
	revs  RevisionStore // opts.Store, when it numbers its records
	now   func() time.Time
	sets  sync.Pool // http.Header: Commit's, emptied
	// stamped: records carry "_created" and "_used" (a timeout or the
	// user index needs them).
	stamped bool
	user    []string // Options.UserKey, split at its dots
	handles [][]byte // the keys of admin handles, the first one makes them
}

// New returns a Manager for o, or an error naming the bad option.
func New(o Options) (*Manager, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("session: at least one key is required")
	}
	for i, k := range o.Keys {
		if k == "" {
			return nil, fmt.Errorf("session: keys[%d] is empty", i)
		}
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxAge < 0 && o.MaxAge != Browser {
		return nil, fmt.Errorf("session: maxAge %v is negative", time.Duration(o.MaxAge))
	}
	if o.Cookie.Path == "" {
		o.Cookie.Path = "/"
	}
	if o.IdleTimeout < 0 || o.AbsoluteTimeout < 0 || o.MaxBytes < 0 {
		return nil, errors.New("session: IdleTimeout, AbsoluteTimeout and MaxBytes must not be negative")
	}
	m := &Manager{opts: o, now: o.Now}
	m.revs, _ = o.Store.(RevisionStore)
	if err := m.initLifetime(); err != nil {
		return nil, err
	}
	if m.now == nil {
		m.now = time.Now
	}
	var err error
	switch o.Format {
	case "", FormatSecure:
		m.opts.Format = FormatSecure
		m.codec, err = newSecureCodec(o.Keys, m.cookie(nil))
	case FormatKoa:
		if o.Unsigned && o.Store != nil {
			// The cookie's value is the store key: unsigned, a client
			// could name any key and read or delete that session.
			return nil, errors.New("session: Unsigned cannot be used with a Store")
		}
		m.codec, err = newKoaCodec(o.Keys, o.KeygripAlgorithm, !o.Unsigned, o.Store == nil)
	default:
		err = fmt.Errorf("unknown format %q (want secure or koa)", o.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return m, nil
}

// Name returns the session cookie's name.
func (m *Manager) Name() string { return m.opts.Name }

// Format returns the cookie format in use.
func (m *Manager) Format() Format { return m.opts.Format }

// hasID reports whether sessions carry an id: with a store, and in the
// secure format.
func (m *Manager) hasID() bool { return m.opts.Store != nil || m.opts.Format == FormatSecure }

// Load returns the session of request r: the one its cookie names, or a
// new, empty one when there is no usable cookie (s.Rejected says why a
// cookie was not usable). The error is non-nil only when the store could
// not be reached; it wraps ErrUnavailable.
func (m *Manager) Load(ctx context.Context, r *http.Request) (*Session, error) {
	rr, memo := m.codec.read(r, m.opts.Name)
	s, err := m.load(ctx, rr, memo)
	if err != nil {
		return nil, err
	}
	if !rr.resign {
		rr.payload = nil // kept only to re-issue the cookie under the first key
	}
	rr.reject = s.Rejected
	s.cookie = rr
	return s, nil
}

// parseStored parses a record the store gave: as one of the proxy's own
// with TrustStore, as any program's otherwise.
func (m *Manager) parseStored(b []byte) (record, error) {
	if m.opts.TrustStore {
		return parseOwnRecord(b)
	}
	return parseRecord(b)
}

func (m *Manager) load(ctx context.Context, rr readResult, memo memo) (*Session, error) {
	if rr.reject != "" || (rr.payload == nil && !memo.found()) {
		s := m.fresh()
		s.Rejected = rr.reject
		return s, nil
	}
	p, parsed := memo.parsed()
	if m.opts.Store != nil {
		id := p.id
		if !parsed {
			id = string(rr.payload)
		}
		b, rev, ok, err := m.loadStored(ctx, id, p.rev)
		if err != nil {
			return nil, fmt.Errorf("%w: load: %w", ErrUnavailable, err)
		}
		if !ok {
			s := m.fresh()
			s.Rejected = RejectUnknown
			return s, nil
		}
		// A RevisionStore gives no bytes for the record parsed; any other
		// nil record (a store's empty one) is parsed, and malformed.
		unchanged := b == nil && rev != 0 && rev == p.rev
		if parsed && (unchanged || bytes.Equal(p.stored, b)) {
			if unchanged {
				b = p.stored // the store still holds the very record parsed
			} else if rev != 0 {
				// The bytes parsed, under a revision the memo lacked
				// (written again unchanged, or remembered from a write
				// that gave none): remembered with it from now on.
				rr.remember(parsedPayload{id: id, rec: p.rec, stored: b, rev: rev})
			}
			return m.loadedStored(id, p.rec, b), nil
		}
		r, err := m.parseStored(b)
		if err != nil {
			s := m.fresh()
			s.Rejected = RejectMalformed
			return s, nil
		}
		// b is this request's own copy (Store.Load): the cache copies
		// what it keeps.
		rr.remember(parsedPayload{id: id, rec: r, stored: b, rev: rev})
		return m.loadedStored(id, r, b), nil
	}
	// The record is in the cookie: parsed once per cookie value when the
	// codec remembers it.
	if !parsed {
		b := rr.payload
		if rr.resign {
			b = bytes.Clone(b) // re-issued under the first key as it is
		}
		if m.opts.Format == FormatSecure {
			p = parseSecurePayload(b)
		} else {
			p = parseKoaPayload(b)
		}
		rr.remember(p)
	}
	if p.malformed {
		s := m.fresh()
		s.Rejected = RejectMalformed
		return s, nil
	}
	return m.loaded(p.id, p.rec), nil
}

// loadStored reads id's record from the store. From a RevisionStore it
// also gets the record's revision, and no bytes when the record is still
// have, the revision of the one parsed; from another store, the revision
// is 0.
func (m *Manager) loadStored(ctx context.Context, id string, have uint64) ([]byte, uint64, bool, error) {
	if m.revs != nil {
		return m.revs.LoadRevision(ctx, id, have)
	}
	b, ok, err := m.opts.Store.Load(ctx, id)
	return b, 0, ok, err
}

// loaded returns the session of a parsed record, or a fresh one if the
// record has expired.
func (m *Manager) loaded(id string, r record) *Session {
	now := m.now()
	if !r.expire.IsZero() && r.expire.Before(now) {
		s := m.fresh()
		s.Rejected = RejectExpired
		return s
	}
	maxAge := r.maxAge
	if maxAge == 0 {
		maxAge = m.opts.MaxAge
	}
	s := &Session{ID: id, Data: r.data, MaxAge: maxAge, Expire: r.expire}
	if m.stamped {
		if reason := m.stamp(s, r, now); reason != "" {
			s = m.fresh()
			s.Rejected = reason
		}
	}
	return s
}

// loadedStored returns the session of the record b that the store holds
// for id, parsed as r, or a fresh one if it has expired.
func (m *Manager) loadedStored(id string, r record, b []byte) *Session {
	if r.ended {
		s := m.fresh()
		s.Rejected = RejectUnknown
		return s
	}
	s := m.loaded(id, r)
	if s.Rejected == "" {
		s.stored, s.cookieID = b, id
	}
	return s
}

// fresh returns a new, empty session. It has its id already, so that the
// id the upstream sees on the first request is the one the session keeps.
func (m *Manager) fresh() *Session {
	s := &Session{Data: json.RawMessage("{}"), MaxAge: m.opts.MaxAge, IsNew: true}
	if m.hasID() {
		s.ID = m.opts.IDPrefix + NewID()
	}
	return s
}

// cookie returns the cookie template for a response to r.
func (m *Manager) cookie(r *http.Request) http.Cookie {
	c := m.opts.Cookie
	c.Name = m.opts.Name
	c.Value, c.Expires, c.MaxAge, c.Raw, c.Unparsed = "", time.Time{}, 0, "", nil
	if m.opts.SecureAuto && r != nil && m.secureRequest(r) {
		c.Secure = true
	}
	return c
}

// secureRequest reports whether r reached the deployment over HTTPS.
func (m *Manager) secureRequest(r *http.Request) bool {
	if m.opts.SecureRequest != nil {
		return m.opts.SecureRequest(r)
	}
	return r.TLS != nil
}

// expiry is when a session saved now with maxAge m ends (zero: Browser).
func expiry(m MaxAge, now time.Time) time.Time {
	if m == Browser {
		return time.Time{}
	}
	return now.Add(time.Duration(m)).Truncate(time.Millisecond)
}

// storeTTL is how long a store keeps a session with maxAge m.
func storeTTL(m MaxAge) time.Duration {
	if m == Browser {
		m = DefaultMaxAge
	}
	return time.Duration(m) + StoreGrace
}

// storeTTLAt is how long a store keeps a session saved now with maxAge
// m and stamps st: storeTTL, or less when a timeout ends it sooner.
func (m *Manager) storeTTLAt(maxAge MaxAge, st stamps, now time.Time) time.Duration {
	ttl := storeTTL(maxAge)
	if !st.expire.IsZero() {
		ttl = st.expire.Sub(now) + StoreGrace
	}
	if end, ok := m.deadline(st); ok {
		ttl = min(ttl, end.Sub(now)+StoreGrace)
	}
	return max(ttl, time.Millisecond)
}
