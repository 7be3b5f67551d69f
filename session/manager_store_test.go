package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request that loaded a session before another request destroyed it
// must not bring it back with its Set: that would undo a logout.
func TestConcurrentDestroyIsNotUndone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other Change
	}{
		{"destroy", Change{Destroy: true}},
		{"renew", Change{Renew: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore(MemoryOptions{})
			m := newManager(t, Options{Store: store})
			_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))

			slowReq, slow := loadExisting(t, m, cookies)
			fastReq, fast := loadExisting(t, m, cookies)
			if _, err := m.Commit(context.Background(), fastReq, fast, tc.other, http.Header{}); err != nil {
				t.Fatal(err)
			}
			before := store.Len()
			h := http.Header{}
			out, err := m.Commit(context.Background(), slowReq, slow, set(`{"late":true}`), h)
			if err != nil {
				t.Fatal(err)
			}
			if out.Saved || len(h["Set-Cookie"]) != 0 || store.Len() != before {
				t.Errorf("the late Set recreated the session: outcome %+v, cookies %v, %d entries (was %d)",
					out, h["Set-Cookie"], store.Len(), before)
			}
			if _, ok, _ := store.Load(context.Background(), slow.ID); ok {
				t.Error("the old id is back in the store")
			}
		})
	}
}

// brokenWrites is a store whose writes fail, as in an outage that began
// between a request's load and its commit.
type brokenWrites struct{ Store }

func (brokenWrites) Update(context.Context, string, []byte, UpdateFunc) error {
	return errors.New("connection refused")
}

// A destroy that starts a new session must not delete the old one when the
// new one cannot be written: the client keeps a working cookie.
func TestDestroyWithSetIsAllOrNothing(t *testing.T) {
	mem := NewMemoryStore(MemoryOptions{})
	_, cookies := roundTrip(t, newManager(t, Options{Store: mem}), nil, set(`{"user":"john"}`))

	m := newManager(t, Options{Store: brokenWrites{mem}})
	r, s := loadExisting(t, m, cookies)
	old := s.ID
	h := http.Header{}
	_, err := m.Commit(context.Background(), r, s, Change{Destroy: true, Set: [][]byte{[]byte(`{"guest":true}`)}}, h)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	if len(h) != 0 {
		t.Errorf("headers written: %v", h)
	}
	if _, ok, _ := mem.Load(context.Background(), old); !ok {
		t.Error("the old session was deleted although the new one was never written")
	}
}

// loadExisting loads the session that cookies name, which must exist.
func loadExisting(t *testing.T, m *Manager, cookies []*http.Cookie) (*http.Request, *Session) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	s, err := m.Load(context.Background(), r)
	if err != nil || s.IsNew {
		t.Fatalf("Load: %+v, %v", s, err)
	}
	return r, s
}
