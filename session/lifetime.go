package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is a session's lifetime beyond koa's maxAge: the idle and
// absolute timeouts, kept in the record's "_created" and "_used" stamps,
// and the cap on a session's size.

// ErrSessionTooLarge is returned by Manager.Commit when a change would
// grow the session data past Options.MaxBytes. Nothing is written; the
// session stays as it was.
var ErrSessionTooLarge = errors.New("session too large")

// initLifetime checks and prepares the options of this file and of the
// user index.
func (m *Manager) initLifetime() error {
	o := &m.opts
	m.stamped = o.IdleTimeout > 0 || o.AbsoluteTimeout > 0 || o.UserKey != ""
	if o.UserKey != "" {
		if o.Store == nil || o.Users == nil {
			return errors.New("session: UserKey needs a Store and a UserIndex (Users)")
		}
		m.user = strings.Split(o.UserKey, ".")
		for _, part := range m.user {
			if part == "" {
				return fmt.Errorf("session: UserKey %q has an empty part", o.UserKey)
			}
		}
		if strings.HasPrefix(o.UserKey, "_") {
			return fmt.Errorf("session: UserKey %q starts with a reserved \"_\"", o.UserKey)
		}
	}
	if len(o.HandleKey) > 0 {
		m.handles = [][]byte{o.HandleKey}
		return nil
	}
	for i, k := range o.Keys {
		hk, err := hkdf.Key(sha256.New, []byte(k), nil, "sessionproxy admin session handle", 32)
		if err != nil {
			return fmt.Errorf("session: keys[%d]: %w", i, err)
		}
		m.handles = append(m.handles, hk)
	}
	return nil
}

// stamp sets s's created and used times from its record r, read at now,
// and returns the Reject* reason when a timeout has ended it ("" when
// not). A record without stamps (written by koa-session, which leaves out
// "_" members, or before the timeouts were turned on) counts from its
// last save, the time koa's "_expire" was set, or from now when that is
// unknown; its stamps are written on this request.
func (m *Manager) stamp(s *Session, r record, now time.Time) string {
	saved := now
	if !r.expire.IsZero() && r.maxAge > 0 {
		saved = r.expire.Add(-time.Duration(r.maxAge))
	}
	s.created, s.used = r.created, r.used
	if s.created.IsZero() {
		s.created, s.unstamped = saved, true
	}
	if s.used.IsZero() {
		s.used, s.unstamped = saved, true
	}
	if a := m.opts.AbsoluteTimeout; a > 0 && !now.Before(s.created.Add(a)) {
		return RejectAbsolute
	}
	if i := m.opts.IdleTimeout; i > 0 && !now.Before(s.used.Add(i)) {
		return RejectIdle
	}
	return ""
}

// touchDue reports whether s, an existing session, must be written on
// this request only to record its use: its idle timeout's extension was
// last written a tenth of the timeout ago or more, or its record has no
// stamps yet.
func (m *Manager) touchDue(s *Session) bool {
	if !m.stamped || s.IsNew {
		return false
	}
	if s.unstamped {
		return true
	}
	i := m.opts.IdleTimeout
	return i > 0 && m.now().Sub(s.used) >= i/10
}

// deadline is when a timeout ends a session with stamps st, if one does.
func (m *Manager) deadline(st stamps) (time.Time, bool) {
	var end time.Time
	if a := m.opts.AbsoluteTimeout; a > 0 && !st.created.IsZero() {
		end = st.created.Add(a)
	}
	if i := m.opts.IdleTimeout; i > 0 && !st.used.IsZero() {
		if e := st.used.Add(i); end.IsZero() || e.Before(end) {
			end = e
		}
	}
	return end, !end.IsZero()
}

// checkSize refuses data that grew past Options.MaxBytes. Data that was
// already that large (koa-session may have written it) may shrink.
func (m *Manager) checkSize(before, data []byte) error {
	if max := m.opts.MaxBytes; max > 0 && len(data) > max && len(data) > len(before) {
		return fmt.Errorf("%w: the session data would be %d bytes, more than session.maxBytes (%d)", ErrSessionTooLarge, len(data), max)
	}
	return nil
}
