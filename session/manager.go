package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures a Manager. Zero fields take the documented defaults,
// which are koa-session's own.
type Options struct {
	// Name is the session cookie's name. Default "koa.sess".
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
	// MaxAge is how long a session lives. Default DefaultMaxAge.
	MaxAge MaxAge
	// Cookie holds the cookie attributes: Path (default "/"), Domain,
	// HttpOnly, Secure and SameSite. Name, Value and Expires are ignored.
	Cookie http.Cookie
	// SecureAuto marks the cookie Secure when the request came over TLS,
	// whatever Cookie.Secure says.
	SecureAuto bool
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
	// IDPrefix starts every new session id: koa-session's prefix option.
	// In the koa format with a store the cookie's value is the id and is
	// also the store key koa-session uses, so the prefix appears in both.
	IDPrefix string
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// StoreGrace is added to a session's maxAge for the store's expiry, as
// koa-session does, so that the entry outlives the cookie.
const StoreGrace = 10 * time.Second

// Manager loads sessions from requests and commits the upstream's changes
// to cookies and the store.
type Manager struct {
	opts  Options
	codec codec
	now   func() time.Time
	sets  sync.Pool // http.Header: Commit's, emptied
}

// New returns a Manager for o, or an error naming the bad option.
func New(o Options) (*Manager, error) {
	if o.Name == "" {
		o.Name = "koa.sess"
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
	m := &Manager{opts: o, now: o.Now}
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
		m.codec, err = newKoaCodec(o.Keys, !o.Unsigned, o.Store == nil)
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
	rr := m.codec.read(r, m.opts.Name)
	s, err := m.load(ctx, rr)
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

func (m *Manager) load(ctx context.Context, rr readResult) (*Session, error) {
	if rr.reject != "" || (rr.payload == nil && rr.memo.get() == nil) {
		s := m.fresh()
		s.Rejected = rr.reject
		return s, nil
	}
	if m.opts.Store != nil {
		memo := rr.memo.get()
		var id string
		if memo != nil {
			id = memo.id
		} else {
			id = string(rr.payload)
		}
		b, ok, err := m.opts.Store.Load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("%w: load: %w", ErrUnavailable, err)
		}
		if !ok {
			s := m.fresh()
			s.Rejected = RejectUnknown
			return s, nil
		}
		if memo != nil && memo.stored != nil && bytes.Equal(memo.stored, b) {
			r := memo.rec
			r.data = bytes.Clone(r.data) // the memo's stays as it is
			return m.loadedStored(id, r, b), nil
		}
		r, err := parseRecord(b)
		if err != nil {
			s := m.fresh()
			s.Rejected = RejectMalformed
			return s, nil
		}
		if rr.memo != nil {
			mr := r
			mr.data = bytes.Clone(r.data)
			rr.memo.set(&parsedPayload{id: id, rec: mr, stored: bytes.Clone(b)})
		}
		return m.loadedStored(id, r, b), nil
	}
	// The record is in the cookie: parsed once per cookie value when the
	// codec remembers it.
	p := rr.memo.get()
	if p == nil {
		if m.opts.Format == FormatSecure {
			p = parseSecurePayload(rr.payload)
		} else {
			p = parseKoaPayload(rr.payload)
		}
		rr.memo.set(p)
	}
	if p.malformed {
		s := m.fresh()
		s.Rejected = RejectMalformed
		return s, nil
	}
	r := p.rec
	r.data = bytes.Clone(r.data) // the memo's stays as it is
	return m.loaded(p.id, r), nil
}

// parseKoaPayload parses a koa cookie's payload, the record itself. Its
// result keeps no reference to b.
func parseKoaPayload(b []byte) *parsedPayload {
	r, err := parseRecord(b)
	if err != nil {
		return &parsedPayload{malformed: true}
	}
	r.data = bytes.Clone(r.data)
	return &parsedPayload{rec: r}
}

// parseSecurePayload splits a secure cookie's payload, "<id>.<record>",
// and parses the record. Its result keeps no reference to b.
func parseSecurePayload(b []byte) *parsedPayload {
	i := bytes.IndexByte(b, '.')
	if i <= 0 {
		return &parsedPayload{malformed: true}
	}
	r, err := parseRecord(b[i+1:])
	if err != nil {
		return &parsedPayload{malformed: true}
	}
	r.data = bytes.Clone(r.data)
	return &parsedPayload{id: string(b[:i]), rec: r}
}

// loaded returns the session of a parsed record, or a fresh one if the
// record has expired.
func (m *Manager) loaded(id string, r record) *Session {
	if !r.expire.IsZero() && r.expire.Before(m.now()) {
		s := m.fresh()
		s.Rejected = RejectExpired
		return s
	}
	maxAge := r.maxAge
	if maxAge == 0 {
		maxAge = m.opts.MaxAge
	}
	return &Session{ID: id, Data: r.data, MaxAge: maxAge, Expire: r.expire}
}

// loadedStored returns the session of the record b that the store holds
// for id, parsed as r, or a fresh one if it has expired.
func (m *Manager) loadedStored(id string, r record, b []byte) *Session {
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

// Change is what an upstream asked for in its response.
type Change struct {
	// Set holds JSON merge patches (RFC 7396) applied in order.
	Set [][]byte
	// Destroy drops the session (koa's ctx.session = null). With Set, a
	// new session with a new id starts from the patches.
	Destroy bool
	// Renew gives the session a new id and a fresh expiry, keeping its
	// data (koa's ctx.session.regenerate()).
	Renew bool
	// MaxAge, when not zero, becomes the session's own maxAge.
	MaxAge MaxAge
}

// IsZero reports whether ch asks for nothing.
func (ch Change) IsZero() bool {
	return len(ch.Set) == 0 && !ch.Destroy && !ch.Renew && ch.MaxAge == 0
}

// Outcome says what Commit did, for metrics and logs.
type Outcome struct {
	Saved     bool // the session was written
	Created   bool // a new session was saved for the first time
	Destroyed bool // an existing session was destroyed
	Renewed   bool // the session got a new id or a re-issued cookie
}

// Commit applies ch to s, as koa-session commits ctx.session, writes the
// store, and appends the session's Set-Cookie headers to h. A cookie is
// set only when something changed or rolling/renew require it. The error
// wraps ErrUnavailable when the store could not be written; otherwise it
// is a problem with ch itself (or a session too large for a cookie).
func (m *Manager) Commit(ctx context.Context, r *http.Request, s *Session, ch Change, h http.Header) (Outcome, error) {
	if m.nothingToCommit(s, ch) {
		return Outcome{}, nil // most responses, which commit would only confirm
	}
	// set collects this commit's cookies; it is reused, for its map.
	set, _ := m.sets.Get().(http.Header)
	if set == nil {
		set = http.Header{}
	}
	defer func() {
		clear(set)
		m.sets.Put(set)
	}()
	out, err := m.commit(ctx, r, s, ch, set)
	if err != nil {
		return out, err
	}
	lines := set["Set-Cookie"]
	if len(lines) > 0 && len(h["Set-Cookie"]) == 0 {
		h["Set-Cookie"] = lines // nothing to overwrite: take the lines as they are
		return out, nil
	}
	for _, line := range lines {
		if !m.opts.NoOverwrite {
			removeCookie(h, line[:strings.IndexByte(line, '=')+1])
		}
		h.Add("Set-Cookie", line)
	}
	return out, nil
}

// removeCookie deletes the Set-Cookie lines in h that start with prefix
// ("name="), as cookies 0.9's overwrite does.
func removeCookie(h http.Header, prefix string) {
	lines := h["Set-Cookie"]
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			kept = append(kept, l)
		}
	}
	switch {
	case len(kept) == 0:
		delete(h, "Set-Cookie")
	case len(kept) < len(lines):
		h["Set-Cookie"] = kept
	}
}

func (m *Manager) commit(ctx context.Context, r *http.Request, s *Session, ch Change, h http.Header) (out Outcome, err error) {
	ck := m.cookie(r)
	// destroyID is a stored session to delete: at once for a plain
	// destroy, but only after the new session is written for a destroy
	// that starts a new one, so that a failed write leaves the client's
	// old session intact rather than half-applied.
	var destroyID string
	if ch.Destroy {
		if m.opts.Store != nil && !s.IsNew {
			destroyID = s.ID
		}
		out.Destroyed = !s.IsNew
		if len(ch.Set) == 0 && ch.MaxAge == 0 {
			if err := m.deleteStored(ctx, destroyID); err != nil {
				return Outcome{}, err
			}
			m.codec.expire(h, ck)
			return out, nil
		}
		*s = *m.fresh() // its cookie replaces the old one
	}
	defer func() {
		if destroyID != "" && err == nil {
			if err = m.deleteStored(ctx, destroyID); err != nil {
				out = Outcome{}
				for k := range h {
					delete(h, k) // the client keeps its old cookie
				}
			}
		}
	}()

	data := s.Data
	changed := false
	if len(ch.Set) > 0 {
		var err error
		if data, changed, err = mergePatches(data, ch.Set); err != nil {
			return out, err
		}
	}
	maxAge := s.MaxAge
	force := ch.Renew
	if ch.MaxAge != 0 {
		maxAge, force = ch.MaxAge, true
	}
	if !m.shouldSave(s, data, changed, force) {
		if ch.Destroy {
			// Destroyed, and the new session stayed empty: nothing to
			// save, but the old cookie must still go.
			m.codec.expire(h, ck)
			return out, nil
		}
		if s.cookie.found {
			ck.Expires = s.Expire
			m.codec.repair(h, ck, s.cookie)
		}
		return out, nil
	}

	now := m.now()
	oldID := s.ID
	renewID := ch.Renew && !s.IsNew && m.hasID()
	if renewID {
		s.ID = m.opts.IDPrefix + NewID()
	}
	if m.opts.Store != nil {
		err = m.saveStore(ctx, h, ck, s, oldID, renewID, ch.Set, maxAge, now)
	} else {
		err = m.saveCookie(h, ck, s, data, maxAge, now)
	}
	if errors.Is(err, errSessionGone) {
		// Destroyed or renewed by a concurrent request: its Set must
		// not bring the session back (that would undo a logout).
		s.ID = oldID
		return out, nil
	}
	if err != nil {
		s.ID = oldID
		return out, err
	}
	out.Saved, out.Created, out.Renewed = true, s.IsNew, ch.Renew && !s.IsNew
	s.MaxAge = maxAge
	s.Expire = expiry(maxAge, now)
	return out, nil
}

// nothingToCommit reports, without commit's work, that commit would
// change nothing for s: no directive, so no save unless rolling or renew
// asks for one (shouldSave), and no cookie to repair (the codecs' repair
// acts only on resign and clearSig). A new reason to save or repair must
// be added here too.
func (m *Manager) nothingToCommit(s *Session, ch Change) bool {
	return ch.IsZero() && !m.opts.Rolling && !m.opts.Renew && !s.cookie.resign && !s.cookie.clearSig
}

// shouldSave is koa-session's _shouldSaveSession.
func (m *Manager) shouldSave(s *Session, data []byte, changed, force bool) bool {
	switch {
	case force:
		return true
	case s.IsNew && isEmptyObject(data):
		return false
	case changed, m.opts.Rolling:
		return true
	case m.opts.Renew && !s.Expire.IsZero() && s.MaxAge > 0:
		return s.Expire.Sub(m.now()) < time.Duration(s.MaxAge)/2
	}
	return false
}

func (m *Manager) saveCookie(h http.Header, ck http.Cookie, s *Session, data []byte, maxAge MaxAge, now time.Time) error {
	// The id, the data and koa's bookkeeping members (at most ~45 bytes).
	payload := make([]byte, 0, len(s.ID)+1+len(data)+48)
	if m.opts.Format == FormatSecure {
		payload = append(payload, s.ID...)
		payload = append(payload, '.')
	}
	payload = appendRecord(payload, data, maxAge, now)
	ck.Expires = expiry(maxAge, now)
	if err := m.codec.write(h, ck, payload, ""); err != nil {
		return err
	}
	s.Data = data
	return nil
}

// deleteStored deletes id from the store ("" deletes nothing).
func (m *Manager) deleteStored(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := m.opts.Store.Delete(ctx, id); err != nil {
		return fmt.Errorf("%w: delete: %w", ErrUnavailable, err)
	}
	return nil
}

// errSessionGone reports that a session this request loaded is no longer
// in the store when it is saved: another request destroyed or renewed it
// (or it expired) meanwhile.
var errSessionGone = errors.New("session: gone from the store")

// saveStore writes the session's record to the store and sets the cookie
// that names it. The merge patches are applied inside Store.Update to the
// record as it is now in the store, so that concurrent requests that set
// different keys all survive.
func (m *Manager) saveStore(ctx context.Context, h http.Header, ck http.Cookie, s *Session, oldID string, renewID bool, patches [][]byte, maxAge MaxAge, now time.Time) error {
	st := m.opts.Store
	ttl := storeTTL(maxAge)
	var saved json.RawMessage
	update := func(cur []byte, ok bool) ([]byte, time.Duration, error) {
		data := s.Data
		if !ok && !s.IsNew {
			return nil, 0, errSessionGone
		}
		switch {
		case ok && s.stored != nil && bytes.Equal(cur, s.stored):
			// The record this request loaded: its data is s.Data.
		case ok:
			// A record that cannot be parsed is replaced by the one this
			// request loaded; Load already treated it as malformed.
			if r, err := parseRecord(cur); err == nil {
				data = r.data
			}
		}
		for _, p := range patches {
			var err error
			if data, err = MergePatch(data, p); err != nil {
				return nil, 0, err
			}
		}
		saved = data
		return appendRecord(nil, data, maxAge, now), ttl, nil
	}
	var err error
	if renewID {
		// Read the current record under the old id, write it under the
		// new one, then drop the old id (defeats session fixation).
		var cur []byte
		var ok bool
		if cur, ok, err = st.Load(ctx, oldID); err == nil {
			var rec []byte
			if rec, _, err = update(cur, ok); err == nil {
				if err = st.Save(ctx, s.ID, rec, ttl); err == nil {
					err = st.Delete(ctx, oldID)
				}
			}
		}
	} else {
		err = st.Update(ctx, s.ID, s.stored, update)
	}
	if errors.Is(err, errSessionGone) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: save: %w", ErrUnavailable, err)
	}
	ck.Expires = expiry(maxAge, now)
	current := "" // the request's cookie, when it names this id under the first key
	if s.ID == s.cookieID && !s.cookie.resign {
		current = s.cookie.value
	}
	if err := m.codec.write(h, ck, []byte(s.ID), current); err != nil {
		return err
	}
	s.Data = saved
	return nil
}

// cookie returns the cookie template for a response to r.
func (m *Manager) cookie(r *http.Request) http.Cookie {
	c := m.opts.Cookie
	c.Name = m.opts.Name
	c.Value, c.Expires, c.MaxAge, c.Raw, c.Unparsed = "", time.Time{}, 0, "", nil
	if m.opts.SecureAuto && r != nil && r.TLS != nil {
		c.Secure = true
	}
	return c
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
