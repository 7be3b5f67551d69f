package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

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
	// DestroyOthers ends every other session of this session's user
	// (Options.UserKey): "log out my other devices". With Destroy, it is
	// "log out everywhere": this session and all the user's others.
	DestroyOthers bool
}

// IsZero reports whether ch asks for nothing.
func (ch Change) IsZero() bool {
	return len(ch.Set) == 0 && !ch.Destroy && !ch.Renew && ch.MaxAge == 0 && !ch.DestroyOthers
}

// Outcome says what Commit did, for metrics and logs.
type Outcome struct {
	Saved     bool // the session was written
	Created   bool // a new session was saved for the first time
	Destroyed bool // an existing session was destroyed
	Renewed   bool // the session got a new id or a re-issued cookie
	// Dropped: the change was not applied, since a concurrent request
	// ended or renewed the session after this one loaded it (a logout
	// must not be undone; its Set is dropped). Beside the other bools:
	// an Outcome is in the frames of every write.
	Dropped bool
	Ended   int // other sessions of the user ended (Change.DestroyOthers)
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
	// set collects this commit's cookies, so that a failed commit adds
	// none to h; it is reused, for its map.
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
		return Outcome{}, err
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

// nothingToCommit reports, without commit's work, that commit would
// change nothing for s: no directive, shouldSave false for the data s
// already has, and no cookie to repair.
func (m *Manager) nothingToCommit(s *Session, ch Change) bool {
	return ch.IsZero() && !s.cookie.needsRepair() && !m.shouldSave(s, s.Data, false, false) && !m.touchDue(s)
}

// plan is what one commit does, decided from the session and the change
// before anything is written.
type plan struct {
	oldID   string   // the id the session had ("" for none)
	newID   string   // the id it is saved under: oldID unless renewed
	data    []byte   // the data with the patches applied
	patches [][]byte // applied again, with a store, to its current record
	maxAge  MaxAge
	// ownMaxAge: the change sets maxAge. Otherwise a write on top of a
	// record written meanwhile keeps that record's maxAge.
	ownMaxAge bool
	save      bool   // write the session: the store, and the cookie
	expire    bool   // expire the client's cookie instead
	touch     bool   // saved only to record its use: its expiry is kept
	remember  bool   // see rev
	drop      string // a stored id to delete once the rest is written
	out       Outcome
	now       time.Time
	st        stamps // the proxy's bookkeeping, when records carry it
	// With Options.UserKey: the user of the session as it was loaded
	// (hashed; "" for none), whose index loses drop.
	loadedUser string
	// rev is the revision of the record a store write put under the id
	// the request's cookie names (now s.stored), which commit has the
	// verified cache remember when remember is set (rememberWritten).
	rev uint64
}

// commit carries out ch for s, writing the session's cookies to h.
// Nothing is deleted from the store before the new session is written,
// so that a failed write leaves the client's old session intact.
func (m *Manager) commit(ctx context.Context, r *http.Request, s *Session, ch Change, h http.Header) (Outcome, error) {
	var p plan // filled in place: a plan returned would be copied, in this frame
	if err := m.plan(&p, s, ch); err != nil {
		return Outcome{}, err
	}
	// The cookie is made where it is written, not here: its copies, and
	// those the codec calls take, would be in this frame, under the merge
	// in plan's, and a write's stack would outgrow a goroutine's first 8
	// KiB (a grown stack is shrunk again at the next collection).
	switch {
	case p.save:
		if err := m.save(ctx, h, r, s, &p); errors.Is(err, errSessionGone) {
			// Destroyed or renewed by a concurrent request, or ended by
			// its user's logout elsewhere: its Set must not bring the
			// session back (that would undo a logout).
			return Outcome{Dropped: !ch.IsZero()}, nil // a rolling or idle re-issue asked for nothing
		} else if err != nil {
			return Outcome{}, err
		}
		if p.remember {
			// Here, not under the store write: the cache's put is deep,
			// and save's and saveStore's frames under it would take a
			// warm write's stack past a goroutine's first 8 KiB.
			rememberWritten(s, p.newID, s.stored, p.rev)
		}
	case p.expire:
		m.expireCookie(h, r)
	case s.cookie.found:
		m.repairCookie(h, r, s)
	}
	if err := m.deleteStored(ctx, p.drop); err != nil {
		return Outcome{}, err // the client keeps its old cookie
	}
	if err := m.unindex(ctx, p.loadedUser, p.drop); err != nil {
		return Outcome{}, err
	}
	if ch.DestroyOthers {
		user := p.loadedUser // "all": the user of the session ended
		if !ch.Destroy {
			user, _ = m.userOf(s.Data)
		}
		n, err := m.endUser(ctx, user, s.ID)
		if err != nil {
			return Outcome{}, err
		}
		p.out.Ended = n
	}
	return p.out, nil
}

// plan decides, in p, what commit does: destroy, then the patches, then
// whether to save (koa's rules), then renew.
func (m *Manager) plan(p *plan, s *Session, ch Change) error {
	if m.user != nil && !s.IsNew {
		p.loadedUser, _ = m.userOf(s.Data)
	}
	if ch.DestroyOthers && m.user == nil {
		return errors.New("session: ending a user's other sessions needs Options.UserKey")
	}
	if ch.Destroy && !m.destroy(p, s, ch) {
		return nil
	}
	p.oldID, p.newID, p.data, p.maxAge = s.ID, s.ID, s.Data, s.MaxAge
	changed := false
	if len(ch.Set) > 0 {
		var err error
		if p.data, changed, err = mergePatches(s.Data, ch.Set); err != nil {
			return err
		}
		if err := m.checkSize(s.Data, p.data); err != nil {
			return err
		}
		p.patches = ch.Set
	}
	force := ch.Renew
	if ch.MaxAge != 0 {
		p.maxAge, p.ownMaxAge, force = ch.MaxAge, true, true
	}
	save := m.shouldSave(s, p.data, changed, force)
	if !save && m.touchDue(s) {
		save, p.touch = true, true
	}
	if !save {
		// A destroyed session whose successor stayed empty: nothing to
		// save, but the old cookie must still go.
		p.expire = ch.Destroy
		return nil
	}
	p.save = true
	if ch.Renew && !s.IsNew {
		m.renew(p)
	}
	p.out.Saved, p.out.Created = true, s.IsNew
	p.now = m.now()
	if m.stamped {
		p.st = stamps{created: s.created, used: p.now}
		if s.IsNew || p.out.Renewed {
			p.st.created = p.now // the absolute timeout starts again
		}
		if p.touch {
			p.st.expire = s.Expire
		}
	}
	return nil
}

// destroy plans koa's ctx.session = null: the stored session is dropped
// and the cookie expired. With patches or a maxAge, a new session starts
// in s instead, and destroy reports true: the plan goes on to save it.
func (m *Manager) destroy(p *plan, s *Session, ch Change) (restart bool) {
	if m.opts.Store != nil && !s.IsNew {
		p.drop = s.ID
	}
	p.out.Destroyed = !s.IsNew
	if len(ch.Set) == 0 && ch.MaxAge == 0 {
		p.expire = true
		return false
	}
	*s = *m.fresh() // its cookie replaces the old one
	return true
}

// renew plans koa's regenerate(): a new id, with the old one deleted
// from a store (defeats session fixation). In the koa format without a
// store, where there is no id, the cookie is only re-issued.
func (m *Manager) renew(p *plan) {
	p.out.Renewed = true
	if !m.hasID() {
		return
	}
	p.newID = m.opts.IDPrefix + NewID()
	if m.opts.Store != nil {
		p.drop = p.oldID
	}
}

// shouldSave is koa-session's _shouldSaveSession, for s holding data
// after the change (changed: the patches changed it; force: a renew or a
// new maxAge).
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

// expireCookie writes the Set-Cookie lines that clear the client's
// session cookie.
func (m *Manager) expireCookie(h http.Header, r *http.Request) {
	m.codec.expire(h, m.cookie(r))
}

// repairCookie writes what the codec needs to repair the cookie s was
// loaded from (see codec.repair), with s's expiry.
func (m *Manager) repairCookie(h http.Header, r *http.Request, s *Session) {
	ck := m.cookie(r)
	ck.Expires = s.Expire
	m.codec.repair(h, ck, s.cookie)
}

// save writes the session as p says, sets the cookie for a response to r
// that carries it, and updates s to what was saved.
func (m *Manager) save(ctx context.Context, h http.Header, r *http.Request, s *Session, p *plan) error {
	ck := m.cookie(r)
	now := p.now
	ck.Expires = expiry(p.maxAge, now)
	if p.touch {
		ck.Expires = s.Expire
	}
	data := p.data
	if m.opts.Store == nil {
		if err := m.codec.write(h, ck, m.cookiePayload(p, now), ""); err != nil {
			return err
		}
	} else {
		var err error
		if data, err = m.saveStore(ctx, s, p, now); err != nil {
			return err
		}
		// The maxAge (and a touch's expiry) of the record as written,
		// which a write meanwhile may have changed.
		ck.Expires = expiry(p.maxAge, now)
		if p.touch {
			ck.Expires = p.st.expire
		}
		current := "" // the request's cookie, when it names this id under the first key
		if p.newID == s.cookieID && !s.cookie.resign {
			current = s.cookie.value
		}
		// A touch changes only the store's record: the cookie the client
		// has names the same id with the same expiry.
		if !p.touch || current == "" {
			if err := m.codec.write(h, ck, []byte(p.newID), current); err != nil {
				return err
			}
		}
	}
	s.ID, s.Data, s.MaxAge, s.Expire = p.newID, data, p.maxAge, ck.Expires
	s.created, s.used = p.st.created, p.st.used
	return nil
}

// cookiePayload is what the cookie carries without a store: the record,
// after "<id>." in the secure format.
func (m *Manager) cookiePayload(p *plan, now time.Time) []byte {
	// The id, the data and koa's bookkeeping members (at most ~45 bytes).
	payload := make([]byte, 0, len(p.newID)+1+len(p.data)+48)
	if m.opts.Format == FormatSecure {
		payload = append(payload, p.newID...)
		payload = append(payload, '.')
	}
	return appendRecord(payload, p.data, p.maxAge, now, p.st)
}

// errSessionGone reports that a session this request loaded is no longer
// in the store when it is saved: another request destroyed or renewed it
// (or it expired) meanwhile.
var errSessionGone = errors.New("session: gone from the store")

// saveStore writes the session's record under p.newID and returns the
// data saved. The patches are applied inside Store.Update to the record
// as it is now in the store, so that concurrent requests that set
// different keys all survive. A renewed session's record is read under
// the old id and written under the new one; commit drops the old id.
func (m *Manager) saveStore(ctx context.Context, s *Session, p *plan, now time.Time) (json.RawMessage, error) {
	st := m.opts.Store
	ttl := m.storeTTLAt(p.maxAge, p.st, now)
	// The closure, which the store keeps, takes copies of what it needs
	// from p: p itself would then escape, and every Commit would allocate
	// its plan.
	merged, stored, isNew, patches, ownMaxAge, touch := p.data, s.stored, s.IsNew, p.patches, p.ownMaxAge, p.touch
	loadedMaxAge, loadedStamps := p.maxAge, p.st
	// What the last call of update wrote: one variable, so that the
	// closure's results are one allocation. update works in it, not in
	// locals of its own, and leaves a record written meanwhile to
	// onTopOf: its frame is under every store write.
	var out struct {
		saved
		written json.RawMessage
	}
	update := func(cur []byte, ok bool) ([]byte, time.Duration, error) {
		// Most often cur is the record this request loaded, or nothing
		// for a new session: its data with the patches is p.data, which
		// plan merged and checked already.
		out.saved = saved{data: merged, ttl: ttl, maxAge: loadedMaxAge, st: loadedStamps}
		switch {
		case !ok && !isNew, ok && isNew:
			// Gone, or (new) a tombstone: ended meanwhile.
			return nil, 0, errSessionGone
		case ok && (stored == nil || !bytes.Equal(cur, stored)):
			if err := m.onTopOf(&out.saved, cur, patches, ownMaxAge, touch, now); err != nil {
				return nil, 0, err
			}
		}
		out.written = appendRecord(nil, out.data, out.maxAge, now, out.st)
		return out.written, out.ttl, nil
	}
	var err error
	var rev uint64 // the revision written, from a RevisionStore
	switch {
	case p.newID != p.oldID:
		err = m.saveRenewed(ctx, p, update, ttl)
	case m.revs != nil:
		rev, err = m.revs.UpdateRevision(ctx, p.newID, stored, update)
	default:
		err = st.Update(ctx, p.newID, stored, update)
	}
	switch {
	case errors.Is(err, errSessionGone), errors.Is(err, ErrSessionTooLarge):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: save: %w", ErrUnavailable, err)
	}
	p.maxAge, p.st = out.maxAge, out.st
	if err := m.index(ctx, p.loadedUser, p.oldID, p.newID, out.data, out.ttl); err != nil {
		return nil, err
	}
	if s.cookie.seen != nil && p.newID == p.oldID {
		s.stored, p.rev, p.remember = out.written, rev, true // commit remembers them
	}
	return out.data, nil
}

// saved is what saveStore's update is to write: the data, its store ttl,
// maxAge and stamps.
type saved struct {
	data   json.RawMessage
	ttl    time.Duration
	maxAge MaxAge
	st     stamps
}

// onTopOf makes sv, what this request would write, go on top of cur, a
// record written by another request since this one loaded the session:
// the patches go on top of cur's data, and its maxAge stays unless this
// change sets one (ownMaxAge; "remember me" is not undone by a request
// that loaded the session before it). A touch keeps cur's expiry too,
// even with the same maxAge: the write meanwhile may have extended it,
// and a touch only records the session's use.
//
//go:noinline
func (m *Manager) onTopOf(sv *saved, cur []byte, patches [][]byte, ownMaxAge, touch bool, now time.Time) error {
	data, curMaxAge, curExpire, err := m.patchCurrent(cur, patches, sv.data)
	if err != nil {
		return err
	}
	sv.data = data
	if !ownMaxAge && curMaxAge != 0 {
		sv.maxAge = curMaxAge
		if touch {
			sv.st.expire = curExpire
		}
		sv.ttl = m.storeTTLAt(sv.maxAge, sv.st, now)
	}
	return nil
}

// patchCurrent returns the data of cur, a record written by another
// request since this one loaded the session, with patches applied: they
// go on top of it. A record that cannot be parsed is replaced by data,
// the one this request loaded with the patches; Load already treated it
// as malformed. It also returns cur's maxAge (0: none) and expiry. It
// and rememberWritten are functions of their own so that their records
// and copies are not in the frames of every store write, whose stack must
// fit a goroutine's first 8 KiB.
func (m *Manager) patchCurrent(cur []byte, patches [][]byte, data []byte) ([]byte, MaxAge, time.Time, error) {
	r, err := m.parseStored(cur)
	if err != nil {
		return data, 0, time.Time{}, nil
	}
	if r.ended {
		return nil, 0, time.Time{}, errSessionGone
	}
	if len(patches) == 0 {
		return r.data, r.maxAge, r.expire, nil
	}
	if data, _, err = merge(r.data, patches); err != nil {
		return nil, 0, time.Time{}, err
	}
	if err := m.checkSize(r.data, data); err != nil {
		return nil, 0, time.Time{}, err
	}
	return data, r.maxAge, r.expire, nil
}

// rememberWritten has the verified cache's entry for s's cookie hold the
// record just written under id, so that the session's next request finds
// it parsed already: written by the proxy, it is scanned without
// validation.
func rememberWritten(s *Session, id string, written []byte, rev uint64) {
	if r, err := parseOwnRecord(written); err == nil {
		s.cookie.remember(parsedPayload{id: id, rec: r, stored: written, rev: rev})
	}
}

// saveRenewed writes a renewed session's record under its new id: the
// record under the old id, updated. The new id is listed under the
// session's user before the old record is read, and it is created only
// where nothing is stored yet, so that ending the user's sessions
// meanwhile (on any replica) ends the new id too: either the old record
// is gone when it is read, or the end finds the new id in the index and
// leaves a tombstone there, which the creation will not overwrite.
func (m *Manager) saveRenewed(ctx context.Context, p *plan, update UpdateFunc, ttl time.Duration) error {
	st := m.opts.Store
	if m.user != nil {
		if user, ok := m.userOf(p.data); ok {
			if err := m.opts.Users.AddUser(ctx, user, p.newID, ttl); err != nil {
				return err
			}
		}
	}
	cur, ok, err := st.Load(ctx, p.oldID)
	if err != nil {
		return err
	}
	rec, recTTL, err := update(cur, ok)
	if err != nil {
		return err
	}
	return st.Update(ctx, p.newID, nil, func(_ []byte, exists bool) ([]byte, time.Duration, error) {
		if exists {
			return nil, 0, errSessionGone // ended already
		}
		return rec, recTTL, nil
	})
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
