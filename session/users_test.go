package session

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func newUserManager(t *testing.T, store interface {
	Store
	UserIndex
}) *Manager {
	t.Helper()
	return newManager(t, Options{Store: store, Users: store, UserKey: "user.id", IdleTimeout: time.Hour})
}

// alive reports whether the browser's session still loads.
func (b *browser) alive() bool {
	b.t.Helper()
	s, _ := b.do(Change{})
	return !s.IsNew
}

func TestDestroyOthersAndAll(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	m := newUserManager(t, store)
	login := func(user string) *browser {
		b := newBrowser(t, m)
		b.do(set(`{"user":{"id":` + user + `}}`))
		return b
	}
	phone, laptop, tablet := login(`7`), login(`"7"`), login(`7`) // a number and a string name the same user
	other := login(`8`)
	anon := newBrowser(t, m)
	anon.do(set(`{"cart":[1]}`))

	s, _ := phone.do(Change{})
	r, loaded := loadExisting(t, m, cookiesOf(phone))
	out, err := m.Commit(context.Background(), r, loaded, Change{DestroyOthers: true}, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Ended != 2 {
		t.Errorf("others ended %d sessions, want 2", out.Ended)
	}
	for name, b := range map[string]*browser{"laptop": laptop, "tablet": tablet} {
		if b.alive() {
			t.Errorf("%s: still logged in after \"log out other devices\"", name)
		}
	}
	for name, b := range map[string]*browser{"phone": phone, "other user": other, "anonymous": anon} {
		if !b.alive() {
			t.Errorf("%s: logged out by another's \"log out other devices\"", name)
		}
	}
	_ = s

	laptop = login(`7`)
	h := http.Header{}
	r, loaded = loadExisting(t, m, cookiesOf(laptop))
	if out, err = m.Commit(context.Background(), r, loaded, Change{Destroy: true, DestroyOthers: true}, h); err != nil {
		t.Fatal(err)
	}
	if out.Ended != 1 || !out.Destroyed {
		t.Errorf("all: %+v, want this one destroyed and 1 other ended", out)
	}
	if phone.alive() {
		t.Error("phone: still logged in after \"log out everywhere\"")
	}
	if c := (&http.Response{Header: h}).Cookies(); len(c) != 1 || c[0].Value != "" {
		t.Errorf("all: Set-Cookie %v, want the cookie expired", h["Set-Cookie"])
	}
	if !other.alive() {
		t.Error("another user was logged out")
	}
}

func cookiesOf(b *browser) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range b.cookies {
		out = append(out, c)
	}
	return out
}

func TestUserSessionsAndHandles(t *testing.T) {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := NewMemoryStore(MemoryOptions{Now: c.now})
	m := newManager(t, Options{Store: store, Users: store, UserKey: "user.id", IdleTimeout: time.Hour, AbsoluteTimeout: 8 * time.Hour, Now: c.now})
	ctx := context.Background()
	a, b := newBrowser(t, m), newBrowser(t, m)
	a.do(set(`{"user":{"id":"ann@example.com"}}`))
	c.t = c.t.Add(time.Minute)
	b.do(set(`{"user":{"id":"ann@example.com"}}`))

	list, err := m.UserSessions(ctx, "ann@example.com")
	if err != nil || len(list) != 2 {
		t.Fatalf("UserSessions: %v, %v; want 2 sessions", list, err)
	}
	for _, info := range list {
		if info.Handle == "" || info.Created.IsZero() || info.LastUsed.IsZero() || !info.Expires.Equal(info.LastUsed.Add(time.Hour)) {
			t.Errorf("listed %+v: want a handle, the times, and expiry at the idle deadline", info)
		}
		for _, ck := range append(cookiesOf(a), cookiesOf(b)...) {
			if s, _ := roundTrip(t, m, []*http.Cookie{ck}, Change{}); info.Handle == s.ID || containsStr(info.Handle, s.ID) {
				t.Errorf("the handle %q shows the session id", info.Handle)
			}
		}
	}
	if err := m.EndHandle(ctx, "nonsense"); !errors.Is(err, ErrBadHandle) {
		t.Errorf("EndHandle(nonsense): %v, want ErrBadHandle", err)
	}
	// One character of the MAC changed to another; fixed characters
	// written over its end would leave a handle that ended in them as it was.
	h := list[0].Handle
	i, other := len(h)-4, "A"
	if h[i] == 'A' {
		other = "B"
	}
	bogus := h[:i] + other + h[i+1:]
	if err := m.EndHandle(ctx, bogus); !errors.Is(err, ErrUnknownHandle) {
		t.Errorf("EndHandle(a forged handle): %v, want ErrUnknownHandle", err)
	}
	if err := m.EndHandle(ctx, list[0].Handle); err != nil {
		t.Fatal(err)
	}
	if err := m.EndHandle(ctx, list[0].Handle); !errors.Is(err, ErrUnknownHandle) {
		t.Errorf("ending a handle twice: %v, want ErrUnknownHandle", err)
	}
	if list, _ := m.UserSessions(ctx, "ann@example.com"); len(list) != 1 {
		t.Errorf("after ending one: %d listed, want 1", len(list))
	}
	if a.alive() == b.alive() {
		t.Error("EndHandle should have ended exactly one of the two sessions")
	}
	n, err := m.EndUser(ctx, "ann@example.com")
	if err != nil || n != 1 {
		t.Errorf("EndUser: %d, %v; want 1", n, err)
	}
	if a.alive() || b.alive() {
		t.Error("a session survived EndUser")
	}

	// A session whose user changes moves to the new user's list.
	d := newBrowser(t, m)
	d.do(set(`{"user":{"id":"x"}}`))
	d.do(set(`{"user":{"id":"y"}}`))
	if lx, _ := m.UserSessions(ctx, "x"); len(lx) != 0 {
		t.Errorf("user x still lists %d sessions after the session changed user", len(lx))
	}
	if ly, _ := m.UserSessions(ctx, "y"); len(ly) != 1 {
		t.Errorf("user y lists %d sessions, want 1", len(ly))
	}
	// Destroyed: off the list.
	d.do(Change{Destroy: true})
	if ly, _ := m.UserSessions(ctx, "y"); len(ly) != 0 {
		t.Errorf("user y lists %d sessions after the destroy, want 0", len(ly))
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// hookStore runs hook once, before the first Update of an id other than
// skip, or before a Delete: the moments of a renew when ending the
// user's sessions elsewhere must still end the renewed one.
type hookStore struct {
	*MemoryStore
	skip   string
	before string // "update" or "delete"
	hook   func()
}

func (h *hookStore) Update(ctx context.Context, id string, last []byte, fn UpdateFunc) error {
	if h.before == "update" && id != h.skip && h.hook != nil {
		f := h.hook
		h.hook = nil
		f()
	}
	return h.MemoryStore.Update(ctx, id, last, fn)
}

func (h *hookStore) Delete(ctx context.Context, id string) error {
	if h.before == "delete" && h.hook != nil {
		f := h.hook
		h.hook = nil
		f()
	}
	return h.MemoryStore.Delete(ctx, id)
}

// A renew in flight while the user's sessions are ended (on another
// replica, by the admin API) must not leave the session alive under its
// new id, whichever step of the renew the end falls between.
func TestRenewDoesNotOutliveEndUser(t *testing.T) {
	for _, before := range []string{"update", "delete"} {
		t.Run("end before the renew's "+before, func(t *testing.T) {
			mem := NewMemoryStore(MemoryOptions{})
			hs := &hookStore{MemoryStore: mem, before: before}
			m := newUserManager(t, hs)
			b := newBrowser(t, m)
			b.do(set(`{"user":{"id":7}}`))
			r, s := loadExisting(t, m, cookiesOf(b))
			hs.skip = s.ID
			hs.hook = func() {
				if n, err := m.EndUser(context.Background(), "7"); err != nil || n < 1 {
					t.Errorf("EndUser: %d, %v", n, err)
				}
			}
			h := http.Header{}
			if _, err := m.Commit(context.Background(), r, s, Change{Renew: true}, h); err != nil {
				t.Fatal(err)
			}
			if hs.hook != nil {
				t.Fatal("the hook never ran")
			}
			for _, c := range (&http.Response{Header: h}).Cookies() {
				b.cookies[c.Name] = c
			}
			if b.alive() {
				t.Error("the renewed session survived its user's logout everywhere")
			}
			if list, _ := m.UserSessions(context.Background(), "7"); len(list) != 0 {
				t.Errorf("%d sessions listed after the logout", len(list))
			}
		})
	}
}

// A request that loaded a session before its user's sessions were ended
// must not bring it back with its write.
func TestEndedSessionIsNotResurrected(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	m := newUserManager(t, store)
	b := newBrowser(t, m)
	b.do(set(`{"user":{"id":7}}`))
	r, s := loadExisting(t, m, cookiesOf(b))
	if _, err := m.EndUser(context.Background(), "7"); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	out, err := m.Commit(context.Background(), r, s, set(`{"late":1}`), h)
	if err != nil || out.Saved || len(h) != 0 {
		t.Fatalf("the late write: %+v, %v, headers %v; want nothing saved", out, err, h)
	}
	if b.alive() {
		t.Error("the ended session came back")
	}
}

func TestUserKeyNeedsAnIndex(t *testing.T) {
	if _, err := New(Options{Keys: []string{key1}, UserKey: "user.id"}); err == nil {
		t.Error("UserKey without a store was accepted")
	}
	m := newManager(t, Options{})
	if _, err := m.EndUser(context.Background(), "7"); !errors.Is(err, ErrNoUserIndex) {
		t.Errorf("EndUser without UserKey: %v", err)
	}
}

// Ids that differ only in a lone surrogate, which the data keeps, are two
// users: "log out my other devices" of one leaves the other's sessions.
func TestUsersApartByALoneSurrogate(t *testing.T) {
	store := NewMemoryStore(MemoryOptions{})
	m := newUserManager(t, store)
	a, b := newBrowser(t, m), newBrowser(t, m)
	a.do(set(`{"user":{"id":"jo\ud800"}}`))
	b.do(set(`{"user":{"id":"jo\ud801"}}`))
	r, loaded := loadExisting(t, m, cookiesOf(a))
	if _, err := m.Commit(context.Background(), r, loaded, Change{DestroyOthers: true}, http.Header{}); err != nil {
		t.Fatal(err)
	}
	if !b.alive() {
		t.Error(`"jo\ud800" logging out their other devices logged out "jo\ud801"`)
	}
}
