package session

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// This file is the index of sessions by user (Options.UserKey): keeping
// it as sessions are saved and ended, ending a user's sessions
// (Change.DestroyOthers, and the admin API through EndUser and
// EndHandle), and listing them (UserSessions).

// UserIndex is a Store that also lists sessions by user. The users it is
// given are opaque strings (the Manager hands it a hash of each user's
// value, never the value); a session appears in it as a ref, the store's
// own name for the session (its key: a hash of the id where the store
// hides ids), never as the id.
type UserIndex interface {
	// Ref returns the ref of session id.
	Ref(id string) string
	// AddUser lists session id under user for at least ttl from now.
	AddUser(ctx context.Context, user, id string, ttl time.Duration) error
	// RemoveUser takes session id off user's list.
	RemoveUser(ctx context.Context, user, id string) error
	// UserSessions returns the sessions listed under user until their
	// listing expires, each with the record the store holds for it: nil
	// for one it does not hold (any more, or yet: a renewed session is
	// listed before it is written, so that End can reach it).
	UserSessions(ctx context.Context, user string) ([]Listed, error)
	// End stores record (a tombstone) at ref for ttl, whatever is there:
	// the session it named is ended, and a session that a request in
	// flight was about to create there is not created.
	End(ctx context.Context, ref string, record []byte, ttl time.Duration) error
}

// Listed is one session in a UserIndex's list.
type Listed struct {
	Ref    string
	Record []byte
}

// endedTTL is how long a tombstone stays: longer than a commit in flight
// can take between reading a session and creating its renewed id.
const endedTTL = time.Minute

// ErrUnknownHandle is returned by EndHandle for a handle that names no
// session, or that is not a handle at all (ErrBadHandle).
var (
	ErrUnknownHandle = errors.New("no session has this handle")
	ErrBadHandle     = errors.New("not a session handle")
	// ErrNoUserIndex is returned by the user methods without Options.UserKey.
	ErrNoUserIndex = errors.New("session: no user index (Options.UserKey is not set)")
)

// userHash is how a user's value names the user in the index: SHA-256,
// so that the store's keys hold no user id and have a bounded length.
func userHash(user string) [sha256.Size]byte { return sha256.Sum256([]byte(user)) }

func userName(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// userOf returns the index name of the user of the session data (its
// value at Options.UserKey: a string or a number), or false when it has
// none.
func (m *Manager) userOf(data []byte) (string, bool) {
	if m.user == nil {
		return "", false
	}
	v := bytes.TrimSpace(data)
	for _, key := range m.user {
		var ok bool
		if v, ok = memberValue(v, key); !ok {
			return "", false
		}
	}
	var user string
	switch {
	case len(v) > 0 && v[0] == '"':
		// As the merge decodes it: two ids that differ only in a lone
		// surrogate, which the data keeps, are two users.
		if user = string(decodeKey(v)); user == "" {
			return "", false
		}
	case len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9'):
		user = string(v)
	default:
		return "", false // null, a boolean, an object or an array: no user
	}
	return userName(userHash(user)), true
}

// memberValue returns the value of the top-level member key of the JSON
// object obj (valid JSON), or false.
func memberValue(obj []byte, key string) ([]byte, bool) {
	if len(obj) == 0 || obj[0] != '{' {
		return nil, false
	}
	var found []byte
	for i := skipSpace(obj, 1); obj[i] != '}'; {
		keyEnd := skipString(obj, i)
		valStart := skipSpace(obj, skipSpace(obj, keyEnd)+1)
		valEnd := skipValue(obj, valStart)
		if string(decodeKey(obj[i:keyEnd])) == key {
			found = obj[valStart:valEnd] // the last one wins, as in a map
		}
		if i = skipSpace(obj, valEnd); obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return found, found != nil
}

// index keeps the user index in step with a session saved as id with
// data: listed under its user for ttl, and off the list of the user it
// had when loaded (under oldID) if that changed.
func (m *Manager) index(ctx context.Context, loadedUser, oldID, id string, data []byte, ttl time.Duration) error {
	if m.user == nil {
		return nil
	}
	user, ok := m.userOf(data)
	if ok {
		if err := m.opts.Users.AddUser(ctx, user, id, ttl); err != nil {
			return fmt.Errorf("%w: user index: %w", ErrUnavailable, err)
		}
	}
	if loadedUser != "" && loadedUser != user && oldID == id {
		return m.unindex(ctx, loadedUser, id)
	}
	return nil
}

// unindex takes id off user's list ("" for either does nothing).
func (m *Manager) unindex(ctx context.Context, user, id string) error {
	if m.user == nil || user == "" || id == "" {
		return nil
	}
	if err := m.opts.Users.RemoveUser(ctx, user, id); err != nil {
		return fmt.Errorf("%w: user index: %w", ErrUnavailable, err)
	}
	return nil
}

// endUser ends every session listed under user except the one with id
// except, and returns how many live sessions it ended. It reads the list
// again after ending what it found, until it finds nothing new, so that a
// session renewed meanwhile (listed under its new id before it is
// written) is ended too.
func (m *Manager) endUser(ctx context.Context, user, except string) (int, error) {
	if user == "" {
		return 0, nil
	}
	idx := m.opts.Users
	skip := ""
	if except != "" {
		skip = idx.Ref(except)
	}
	done := map[string]bool{}
	n := 0
	for range 16 {
		list, err := idx.UserSessions(ctx, user)
		if err != nil {
			return n, fmt.Errorf("%w: user index: %w", ErrUnavailable, err)
		}
		found := false
		for _, l := range list {
			if l.Ref == skip || done[l.Ref] {
				continue
			}
			found = true
			if err := idx.End(ctx, l.Ref, tombstone, endedTTL); err != nil {
				return n, fmt.Errorf("%w: end: %w", ErrUnavailable, err)
			}
			done[l.Ref] = true
			if m.live(l.Record) {
				n++
			}
		}
		if !found {
			break
		}
	}
	return n, nil
}

// live reports whether rec is a session record that has not ended.
func (m *Manager) live(rec []byte) bool {
	r, err := parseRecord(rec)
	if err != nil || r.ended {
		return false
	}
	now := m.now()
	if !r.expire.IsZero() && r.expire.Before(now) {
		return false
	}
	var s Session
	return !m.stamped || m.stamp(&s, r, now) == ""
}

// SessionInfo describes one of a user's sessions, for the admin API. It
// never holds the session id.
type SessionInfo struct {
	// Handle names the session for EndHandle: opaque, and of no use as
	// a cookie.
	Handle string `json:"handle"`
	// Created is when the session started or was last renewed.
	Created time.Time `json:"created"`
	// LastUsed is the last use the proxy wrote: with an idle timeout, at
	// most a tenth of it before the real last use.
	LastUsed time.Time `json:"lastUsed"`
	// Expires is when the session ends unless used (or, for a
	// browser-session cookie without timeouts, the zero time: when the
	// browser closes).
	Expires time.Time `json:"expires"`
}

// UserSessions lists the live sessions of user (the value at
// Options.UserKey, as a string).
func (m *Manager) UserSessions(ctx context.Context, user string) ([]SessionInfo, error) {
	if m.user == nil {
		return nil, ErrNoUserIndex
	}
	sum := userHash(user)
	list, err := m.opts.Users.UserSessions(ctx, userName(sum))
	if err != nil {
		return nil, fmt.Errorf("%w: user index: %w", ErrUnavailable, err)
	}
	out := []SessionInfo{}
	now := m.now()
	for _, l := range list {
		if !m.live(l.Record) {
			continue
		}
		r, _ := parseRecord(l.Record)
		var s Session
		m.stamp(&s, r, now)
		info := SessionInfo{Handle: m.handle(sum, l.Ref), Created: s.created, LastUsed: s.used, Expires: r.expire}
		if end, ok := m.deadline(stamps{created: s.created, used: s.used}); ok && (info.Expires.IsZero() || end.Before(info.Expires)) {
			info.Expires = end
		}
		out = append(out, info)
	}
	return out, nil
}

// EndUser ends every session of user and returns how many there were.
func (m *Manager) EndUser(ctx context.Context, user string) (int, error) {
	if m.user == nil {
		return 0, ErrNoUserIndex
	}
	return m.endUser(ctx, userName(userHash(user)), "")
}

// EndHandle ends the session that UserSessions listed with handle. It
// returns ErrBadHandle for a string that is no handle and
// ErrUnknownHandle when no live session has it.
func (m *Manager) EndHandle(ctx context.Context, handle string) error {
	if m.user == nil {
		return ErrNoUserIndex
	}
	b, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(b) != sha256.Size+handleMACSize {
		return ErrBadHandle
	}
	var sum [sha256.Size]byte
	copy(sum[:], b)
	user := userName(sum)
	list, err := m.opts.Users.UserSessions(ctx, user)
	if err != nil {
		return fmt.Errorf("%w: user index: %w", ErrUnavailable, err)
	}
	for _, l := range list {
		if !m.handleMatches(b[sha256.Size:], l.Ref) || !m.live(l.Record) {
			continue
		}
		if err := m.opts.Users.End(ctx, l.Ref, tombstone, endedTTL); err != nil {
			return fmt.Errorf("%w: end: %w", ErrUnavailable, err)
		}
		return nil
	}
	return ErrUnknownHandle
}

// handleMACSize is the length of a handle's MAC of the session's ref.
const handleMACSize = 16

// handle returns the admin handle of the session at ref of the user
// whose hash is sum: the hash, which finds the user's list, and an
// HMAC-SHA256 of the ref under a key derived from Options.Keys, which
// picks the session in it. It tells nothing of the session id.
func (m *Manager) handle(sum [sha256.Size]byte, ref string) string {
	b := append(sum[:len(sum):len(sum)], handleMAC(m.handles[0], ref)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func handleMAC(key []byte, ref string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(ref))
	return h.Sum(nil)[:handleMACSize]
}

// handleMatches reports, in constant time per key, whether mac is the
// handle MAC of ref under any of the handle keys.
func (m *Manager) handleMatches(mac []byte, ref string) bool {
	for _, k := range m.handles {
		if hmac.Equal(mac, handleMAC(k, ref)) {
			return true
		}
	}
	return false
}

// HasUserIndex reports whether sessions are indexed by user
// (Options.UserKey), which Change.DestroyOthers needs.
func (m *Manager) HasUserIndex() bool { return m != nil && m.user != nil }
