package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	h := handler()
	for _, tc := range []struct {
		name, path, want string
	}{
		{"read sets nothing", "/", ""},
		{"first write", "/write", `{"n":1}`},
		{"every write changes the session", "/write", `{"n":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got := w.Header().Get("X-Session-Set"); got != tc.want {
				t.Errorf("X-Session-Set = %q, want %q", got, tc.want)
			}
			if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
				t.Errorf("got %d %q, want 200 \"ok\\n\"", w.Code, w.Body)
			}
		})
	}
}
