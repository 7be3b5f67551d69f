package sessionproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrHeadersSent is returned by a change made after the response's
	// headers went out (the handler wrote or flushed its body), when the
	// change can no longer reach the proxy.
	ErrHeadersSent = errors.New("sessionproxy: session changed after the response headers were sent")
	// ErrHijacked is returned by Hijack (http.Hijacker, or
	// http.ResponseController's Hijack) when the session has changes:
	// the handler writes its own response on a hijacked connection, so
	// they could not reach the proxy. Make them on a request that is not
	// upgraded, or upgrade with the session unchanged.
	ErrHijacked = errors.New("sessionproxy: the session changed before the connection was hijacked; its changes cannot reach the proxy")
	// ErrNoSession is returned by a change to the nil *Session that
	// FromContext returns when the request has none (Options.Optional).
	ErrNoSession = errors.New("sessionproxy: no session in this request")
	// ErrReservedKey is returned by Set and Delete for a top-level key
	// that starts with "_": the proxy keeps its own bookkeeping there and
	// refuses a change that names one.
	ErrReservedKey = errors.New(`sessionproxy: session keys starting with "_" are reserved`)
)

// maxMaxAge is the longest lifetime the proxy accepts, 100 years.
const maxMaxAge = 100 * 365 * 24 * time.Hour

// Session is the session of one request, as the proxy sent it. Its
// values are JSON: what arrived decodes to map[string]any, []any, string,
// json.Number, bool; what the handler sets is kept as given and must
// encode with encoding/json.
//
// Changes are found by comparing the session's JSON when the response
// starts with the JSON it arrived with, so a map from Get changed in
// place is sent too, with or without Set. That comparison happens once,
// when the headers go out; a change made afterwards returns
// ErrHeadersSent, and both it and a change in place then, which no call
// can refuse, are reported to Options.OnLateChange when the handler
// returns.
//
// The methods are safe for concurrent use. A nil *Session (no session in
// the request) reads as empty, and its changes return ErrNoSession.
type Session struct {
	mu        sync.Mutex
	id        string
	isNew     bool
	arrived   map[string]any  // the token's "sess", never changed
	values    map[string]any  // arrived itself until own
	own       bool            // values is the session's own map
	touched   map[string]bool // keys set, deleted or lent out: only they can differ from arrived
	destroyed bool
	others    bool // the user's other sessions end too
	renew     bool
	maxAge    string // "", milliseconds or "session"
	committed bool
	lent      bool           // Get returned, or Set took, a value that can change in place
	sent      map[string]any // the values as commit sent them
	refused   string         // the first call refused with ErrHeadersSent, for OnLateChange
	// accessed is set once the handler read or changed the session: the
	// response then depends on the cookie and gets Vary: Cookie. The
	// library's own reads go to the fields and do not set it.
	accessed atomic.Bool
}

type contextKey struct{}

// FromContext returns the session the middleware put in ctx, or nil.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(contextKey{}).(*Session)
	return s
}

// FromRequest returns the session of r, or nil: FromContext(r.Context()).
func FromRequest(r *http.Request) *Session {
	return FromContext(r.Context())
}

// NewContext returns a copy of ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

func newSession(c *Claims) *Session {
	return &Session{id: c.SID, isNew: c.New, arrived: c.Session, values: c.Session}
}

// touch gives the session its own map of values, once, and marks key as
// one that may differ from arrived, so that arrived stays as the token
// had it and commit compares only the keys that may have changed. A
// request that only reads scalars copies nothing.
func (s *Session) touch(key string) {
	if !s.own {
		s.values, s.own = maps.Clone(s.arrived), true
	}
	if s.touched == nil {
		s.touched = map[string]bool{}
	}
	s.touched[key] = true
}

// deepCopy copies decoded JSON: maps and slices anew, the rest as is.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// ID returns the session id: stable for the session's life, changed by
// Renew on the next request. It is empty when the proxy uses the koa
// cookie format, whose cookies carry no id.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.accessed.Store(true)
	return s.id
}

// IsNew reports whether the session did not exist before this request.
func (s *Session) IsNew() bool {
	if s == nil {
		return false
	}
	s.accessed.Store(true)
	return s.isNew
}

// Get returns the value of key, or nil.
func (s *Session) Get(key string) any {
	if s == nil {
		return nil
	}
	s.accessed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.values[key]
	if mutable(v) {
		if !s.touched[key] { // lend a copy: arrived's own value stays as it came
			if s.committed && s.sent != nil {
				// Lent after the headers went out: what went out for this
				// key is what arrived, the baseline for changedSinceCommit.
				if n, err := normalize(map[string]any{key: v}); err == nil {
					s.sent[key] = n[key]
				}
			}
			s.touch(key)
			v = deepCopy(v)
			s.values[key] = v
		}
		s.lent = true
	}
	return v
}

// mutable reports whether v can be changed in place by whoever holds it.
func mutable(v any) bool {
	switch v.(type) {
	case nil, string, bool, json.Number, float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return false
	}
	return true
}

// Decode stores the value of key in the value v points to, as
// json.Unmarshal does, and reports whether key was there.
func (s *Session) Decode(key string, v any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.accessed.Store(true)
	s.mu.Lock()
	val := s.values[key]
	s.mu.Unlock()
	if val == nil {
		return false, nil
	}
	b, err := json.Marshal(val)
	if err != nil {
		return true, fmt.Errorf("sessionproxy: session key %q: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("sessionproxy: session key %q: %w", key, err)
	}
	return true, nil
}

// Keys returns the session's top-level keys, sorted.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.accessed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Set sets key to value, which must encode as JSON. A nil value (or one
// that encodes as null) deletes key, as a merge patch does.
func (s *Session) Set(key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("sessionproxy: session key %q: %w", key, err)
	}
	return s.change("Set", key, func() {
		s.touch(key)
		if string(b) == "null" {
			delete(s.values, key)
		} else {
			s.values[key] = value
			s.lent = s.lent || mutable(value)
		}
	})
}

// Delete removes key.
func (s *Session) Delete(key string) error {
	return s.change("Delete", key, func() {
		s.touch(key)
		delete(s.values, key)
	})
}

// Destroy drops the session (koa-session's ctx.session = null): the proxy
// deletes it and clears the cookie. A max age set before goes with it.
// Values (and a max age) set afterwards start a new session, with a new
// id.
func (s *Session) Destroy() error {
	return s.change("Destroy", "", func() {
		s.values, s.own = map[string]any{}, true
		s.destroyed = true
		s.maxAge = ""
	})
}

// DestroyOthers ends every other session of this session's user ("log
// out my other devices"); this one stays, with its changes. The user is
// the one the session has after this request's changes, so a login may
// set the user and end the user's earlier sessions at once. With Destroy
// in the same request, in either order, it is DestroyAll.
//
// The proxy needs session.userKey (the path of the user's id in the
// session, with a server-side store): without it, it answers 502 and
// applies none of the response's changes.
func (s *Session) DestroyOthers() error {
	return s.change("DestroyOthers", "", func() { s.others = true })
}

// DestroyAll ends this session, as Destroy does, and every other session
// of the user it had ("log out everywhere"). Values set afterwards start
// a new session, as after Destroy. Like DestroyOthers, it needs the
// proxy's session.userKey.
func (s *Session) DestroyAll() error {
	return s.change("DestroyAll", "", func() {
		s.values, s.own = map[string]any{}, true
		s.destroyed, s.others = true, true
		s.maxAge = ""
	})
}

// Renew gives the session a new id, keeping its data (koa-session's
// regenerate()). Call it after a login, against session fixation.
func (s *Session) Renew() error {
	return s.change("Renew", "", func() { s.renew = true })
}

// SetMaxAge sets this session's own lifetime (koa-session's maxAge, e.g.
// for "remember me"), from 1 ms to 100 years, counted in milliseconds.
func (s *Session) SetMaxAge(d time.Duration) error {
	if d < time.Millisecond || d > maxMaxAge {
		return fmt.Errorf("sessionproxy: max age %v: want 1ms to 100 years", d)
	}
	return s.change("SetMaxAge", "", func() { s.maxAge = strconv.FormatInt(d.Milliseconds(), 10) })
}

// SetBrowserSession makes the session's cookie last until the browser
// closes (koa-session's maxAge = "session").
func (s *Session) SetBrowserSession() error {
	return s.change("SetBrowserSession", "", func() { s.maxAge = "session" })
}

// change applies f, the change op makes, under the lock, unless the
// session cannot change. A change refused because the headers went out
// is remembered for OnLateChange: a caller may ignore the error.
func (s *Session) change(op, key string, f func()) error {
	if s == nil {
		return ErrNoSession
	}
	if strings.HasPrefix(key, "_") {
		return fmt.Errorf("%w: %q", ErrReservedKey, key)
	}
	s.accessed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		if s.refused == "" {
			s.refused = op
		}
		return ErrHeadersSent
	}
	f()
	return nil
}

// refusedCall returns the first call refused with ErrHeadersSent, or "".
func (s *Session) refusedCall() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// directive is one response header, by the suffix after the token
// header's name ("-Set" for X-Session-Set).
type directive struct {
	suffix, value string
}

// commit ends the session's changes and returns the directives that send
// them: the smallest merge patch from the arrived session to the current
// one, or the whole new data after Destroy, and which sessions end.
func (s *Session) commit() ([]directive, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return nil, nil
	}
	s.committed = true
	var ds []directive
	switch {
	case s.destroyed && s.others:
		ds = append(ds, directive{"-Destroy", "all"})
	case s.destroyed:
		ds = append(ds, directive{"-Destroy", "true"})
	case s.others:
		ds = append(ds, directive{"-Destroy", "others"})
	}
	if !s.destroyed && len(s.touched) == 0 {
		s.sent = map[string]any{} // nothing touched: nothing compared, nothing sent
	} else {
		after, err := normalize(s.current())
		if err != nil {
			return nil, err
		}
		s.sent = after
		if s.destroyed {
			if len(after) > 0 {
				ds = append(ds, directive{"-Set", encodeASCII(after)})
			}
		} else {
			before := make(map[string]any, len(s.touched))
			for k := range s.touched {
				if v, ok := s.arrived[k]; ok {
					before[k] = v
				}
			}
			if patch := diff(before, after); len(patch) > 0 {
				ds = append(ds, directive{"-Set", encodeASCII(patch)})
			}
		}
	}
	if s.renew && !s.destroyed {
		ds = append(ds, directive{"-Renew", "true"})
	}
	if s.maxAge != "" {
		ds = append(ds, directive{"-Max-Age", s.maxAge})
	}
	return ds, nil
}

// current returns the values commit compares: after Destroy all of them
// (the new session's data), otherwise only the touched keys, the only
// ones that can differ from arrived.
func (s *Session) current() map[string]any {
	if s.destroyed {
		return s.values
	}
	now := make(map[string]any, len(s.touched))
	for k := range s.touched {
		if v, ok := s.values[k]; ok {
			now[k] = v
		}
	}
	return now
}

// changedSinceCommit reports whether a value lent out by Get (or given to
// Set) was changed in place after commit sent the session: a change that
// can no longer reach the proxy.
func (s *Session) changedSinceCommit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.committed || !s.lent || s.sent == nil { // nil: the session could not be encoded
		return false
	}
	now, err := normalize(s.current())
	return err != nil || !equal(now, s.sent)
}
