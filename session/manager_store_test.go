package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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

// A returning cookie's record is parsed once and remembered, but a load
// still gives what the store holds now: a record another replica changed,
// one that is no longer valid, and one that expired meanwhile.
func TestStoreRecordMemo(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	store := NewMemoryStore(MemoryOptions{})
	m := newManager(t, Options{Store: store, Now: func() time.Time { return now }})
	_, cookies := roundTrip(t, m, nil, set(`{"user":"john"}`))
	_, s := loadExisting(t, m, cookies)
	id := s.ID
	expire := now.Add(time.Hour).UnixMilli()
	record := func(data string) []byte {
		return fmt.Appendf(nil, `{%s,"_expire":%d,"_maxAge":86400000}`, data, expire)
	}
	for _, step := range []struct {
		name   string
		record []byte // saved under id first; nil: left as it is
		after  time.Duration
		want   string // the session's data; "" for a rejected one
		reject string
	}{
		{name: "as saved", want: `{"user":"john"}`},
		{name: "again, remembered", want: `{"user":"john"}`},
		{name: "changed by another replica", record: record(`"user":"jane"`), want: `{"user":"jane"}`},
		{name: "changed again", record: record(`"user":"joe","n":1`), want: `{"user":"joe","n":1}`},
		{name: "not a record", record: []byte(`["user"]`), reject: RejectMalformed},
		{name: "valid again", record: record(`"user":"ann"`), want: `{"user":"ann"}`},
		{name: "expired since", after: 2 * time.Hour, reject: RejectExpired},
	} {
		if step.record != nil {
			if err := store.Save(ctx, id, step.record, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(step.after)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		s, err := m.Load(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if s.Rejected != step.reject || (step.reject == "" && (s.ID != id || string(s.Data) != step.want)) {
			t.Fatalf("%s: session %s %s (rejected %q), want %s (rejected %q)", step.name, s.ID, s.Data, s.Rejected, step.want, step.reject)
		}
		if step.reject == "" {
			s.Data[0] = 'X' // a session's data is its own: the memo's is untouched
		}
	}
}
