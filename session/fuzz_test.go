package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzLoadSecure feeds arbitrary cookie values to the secure format: any
// value gives a session (a fresh one unless it verifies), never an error
// or a panic.
func FuzzLoadSecure(f *testing.F) {
	m, err := New(Options{Keys: []string{key1}})
	if err != nil {
		f.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, _ := m.Load(context.Background(), r)
	h := http.Header{}
	if _, err := m.Commit(context.Background(), r, s, set(`{"a":1}`), h); err != nil {
		f.Fatal(err)
	}
	f.Add((&http.Response{Header: h}).Cookies()[0].Value)
	f.Add("")
	f.Add("MTcwMDAwMDAwMHx8")
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "koa.sess="+value)
		s, err := m.Load(context.Background(), r)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if s.Rejected != "" && (!s.IsNew || string(s.Data) != "{}") {
			t.Fatalf("rejected cookie %q gave a session that is not new and empty: %+v", value, s)
		}
		if _, err := m.Commit(context.Background(), r, s, set(`{"b":2}`), http.Header{}); err != nil {
			t.Fatalf("Commit after loading %q: %v", value, err)
		}
	})
}
