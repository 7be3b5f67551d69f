package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lifetimeSetups are the formats and stores the timeouts must work in.
func lifetimeSetups() []struct {
	name string
	opts func() Options
} {
	return []struct {
		name string
		opts func() Options
	}{
		{"secure cookie", func() Options { return Options{} }},
		{"koa cookie", func() Options { return Options{Format: FormatKoa} }},
		{"secure memory", func() Options { return Options{Store: NewMemoryStore(MemoryOptions{})} }},
		{"koa memory", func() Options { return Options{Format: FormatKoa, Store: NewMemoryStore(MemoryOptions{})} }},
	}
}

// browser is a client's cookie jar for the manager tests: it keeps the
// cookies the responses set.
type browser struct {
	t       *testing.T
	m       *Manager
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, m *Manager) *browser {
	return &browser{t: t, m: m, cookies: map[string]*http.Cookie{}}
}

// do sends a request with the jar's cookies, commits ch, and returns the
// session loaded and the Set-Cookie lines.
func (b *browser) do(ch Change) (*Session, []*http.Cookie) {
	b.t.Helper()
	var jar []*http.Cookie
	for _, c := range b.cookies {
		jar = append(jar, c)
	}
	s, set := roundTrip(b.t, b.m, jar, ch)
	for _, c := range set {
		if c.Expires.Equal(time.Unix(0, 0)) {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return s, set
}

func TestIdleTimeout(t *testing.T) {
	for _, setup := range lifetimeSetups() {
		t.Run(setup.name, func(t *testing.T) {
			c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			o := setup.opts()
			o.IdleTimeout, o.Now = 10*time.Minute, c.now
			if mem, ok := o.Store.(*MemoryStore); ok {
				mem.now = c.now
			}
			b := newBrowser(t, newManager(t, o))
			b.do(set(`{"user":"jo"}`))

			c.t = c.t.Add(30 * time.Second)
			if s, set := b.do(Change{}); s.IsNew || len(set) != 0 {
				t.Fatalf("30s later: new %v, Set-Cookie %v; want the session, nothing written (a tenth of the timeout has not passed)", s.IsNew, set)
			}
			// Used every 9 minutes, it lives on well past the timeout.
			for i := range 5 {
				c.t = c.t.Add(9 * time.Minute)
				if s, _ := b.do(Change{}); s.IsNew || s.Rejected != "" {
					t.Fatalf("use %d, 9 minutes after the last: %q, new %v; want the session alive", i, s.Rejected, s.IsNew)
				}
			}
			c.t = c.t.Add(10 * time.Minute)
			if s, _ := b.do(Change{}); !s.IsNew || s.Rejected != RejectIdle {
				t.Fatalf("unused for the idle timeout: rejected %q, new %v; want %q", s.Rejected, s.IsNew, RejectIdle)
			}
		})
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	for _, setup := range lifetimeSetups() {
		t.Run(setup.name, func(t *testing.T) {
			c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			o := setup.opts()
			o.AbsoluteTimeout, o.IdleTimeout, o.Rolling, o.Now = time.Hour, 20*time.Minute, true, c.now
			if mem, ok := o.Store.(*MemoryStore); ok {
				mem.now = c.now
			}
			b := newBrowser(t, newManager(t, o))
			b.do(set(`{"user":"jo"}`))
			// Use, rolling and changes do not extend it...
			for range 5 {
				c.t = c.t.Add(10 * time.Minute)
				if s, _ := b.do(set(`{"n":1}`)); s.IsNew {
					t.Fatalf("rejected %q before the absolute timeout", s.Rejected)
				}
			}
			c.t = c.t.Add(10 * time.Minute)
			if s, _ := b.do(Change{}); s.Rejected != RejectAbsolute {
				t.Fatalf("an hour after creation: rejected %q, want %q", s.Rejected, RejectAbsolute)
			}
			// ...a renew starts it again.
			b.do(set(`{"user":"jo"}`))
			c.t = c.t.Add(50*time.Minute - time.Second)
			b.do(Change{Renew: true})
			c.t = c.t.Add(15 * time.Minute)
			if s, _ := b.do(Change{}); s.IsNew {
				t.Fatalf("65 minutes after creation, 15 after a renew: rejected %q", s.Rejected)
			}
			for range 2 {
				c.t = c.t.Add(15 * time.Minute)
				b.do(Change{})
			}
			c.t = c.t.Add(15 * time.Minute)
			if s, _ := b.do(Change{}); s.Rejected != RejectAbsolute {
				t.Fatalf("an hour after the renew: rejected %q, want %q", s.Rejected, RejectAbsolute)
			}
		})
	}
}

// A record without the proxy's stamps (koa-session wrote it: it leaves
// out "_" members) counts from its last save, koa's "_expire" minus its
// "_maxAge", and gets its stamps on the proxy's next request.
func TestUnstampedRecordCountsFromItsSave(t *testing.T) {
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, Options{Format: FormatKoa, IdleTimeout: time.Hour, Now: c.now})
	saved := c.t.Add(-2 * time.Hour)
	koa := appendRecord(nil, []byte(`{"user":"jo"}`), MaxAge(24*time.Hour), saved, stamps{})
	lines, s := koaRoundTrip(t, m, koaCookie(t, m, koa), Change{})
	if s.Rejected != RejectIdle {
		t.Fatalf("a koa record saved 2h ago with a 1h idle timeout: rejected %q, want %q", s.Rejected, RejectIdle)
	}
	koa = appendRecord(nil, []byte(`{"user":"jo"}`), MaxAge(24*time.Hour), c.t.Add(-time.Minute), stamps{})
	lines, s = koaRoundTrip(t, m, koaCookie(t, m, koa), Change{})
	if s.IsNew || len(lines) == 0 {
		t.Fatalf("a koa record saved a minute ago: new %v (%q), Set-Cookie %v; want the session, stamped", s.IsNew, s.Rejected, lines)
	}
	if !strings.Contains(lines[0], "koa.sess=") {
		t.Fatalf("Set-Cookie %v", lines)
	}
}

// koaCookie returns the Cookie header of a signed koa cookie holding
// record.
func koaCookie(t *testing.T, m *Manager, record []byte) string {
	t.Helper()
	h := http.Header{}
	if err := m.codec.write(h, m.cookie(nil), record, ""); err != nil {
		t.Fatal(err)
	}
	return cookieHeader(h["Set-Cookie"])
}

func TestMaxBytes(t *testing.T) {
	for _, setup := range lifetimeSetups() {
		t.Run(setup.name, func(t *testing.T) {
			o := setup.opts()
			o.MaxBytes = 64
			m := newManager(t, o)
			b := newBrowser(t, m)
			b.do(set(`{"user":"jo"}`))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, c := range b.cookies {
				r.AddCookie(c)
			}
			s, err := m.Load(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			_, err = m.Commit(context.Background(), r, s, set(`{"big":"`+strings.Repeat("x", 64)+`"}`), h)
			if !errors.Is(err, ErrSessionTooLarge) || !strings.Contains(err.Error(), "session.maxBytes (64)") {
				t.Fatalf("growing past MaxBytes: error %v, want ErrSessionTooLarge naming the limit", err)
			}
			if len(h) != 0 {
				t.Errorf("headers written: %v", h)
			}
			if s, _ := b.do(Change{}); string(s.Data) != `{"user":"jo"}` {
				t.Errorf("after the refused change the session holds %s, want it intact", s.Data)
			}
		})
	}
}
