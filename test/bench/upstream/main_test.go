package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	h := handler()
	for _, tc := range []struct {
		name, path, want, user string
	}{
		{"read sets nothing", "/?u=7", "", ""},
		{"first write", "/write", `{"n":1}`, ""},
		{"every write changes the session", "/write", `{"n":2}`, ""},
		{"a write names the user it was asked for", "/write?u=42", `{"n":3}`, "42"},
		{"login sets a user", "/login", userSession(1), ""},
		{"every login is another user", "/login", userSession(2), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if got := w.Header().Get("X-Session-Set"); got != tc.want {
				t.Errorf("X-Session-Set = %q, want %q", got, tc.want)
			}
			if got, want := w.Header().Get("X-Bench-User"), tc.user; got != want {
				t.Errorf("X-Bench-User = %q, want %q", got, want)
			}
			if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
				t.Errorf("got %d %q, want 200 \"ok\\n\"", w.Code, w.Body)
			}
		})
	}
}

// TestUserSession holds the signed-in user to what the benchmark claims:
// a JSON object of about 250 bytes with the fields an app keeps, and a
// different session (and CSRF token) for every user.
func TestUserSession(t *testing.T) {
	seen := map[string]bool{}
	csrfs := map[string]bool{}
	for _, i := range []int64{1, 2, 3, 99_999, 100_000, 1_234_567} {
		s := userSession(i)
		if n := len(s); n < 230 || n > 270 {
			t.Errorf("userSession(%d) is %d bytes, want about 250: %s", i, n, s)
		}
		var v struct {
			User struct {
				ID    int64    `json:"id"`
				Name  string   `json:"name"`
				Email string   `json:"email"`
				Roles []string `json:"roles"`
			} `json:"user"`
			CSRF string `json:"csrf"`
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("userSession(%d) is not JSON: %v\n%s", i, err, s)
		}
		if v.User.ID == 0 || v.User.Name == "" || v.User.Email == "" || len(v.User.Roles) == 0 || len(v.CSRF) != 43 {
			t.Errorf("userSession(%d) lacks a field: %+v", i, v)
		}
		if seen[s] || csrfs[v.CSRF] {
			t.Errorf("userSession(%d) repeats an earlier session or CSRF token", i)
		}
		seen[s], csrfs[v.CSRF] = true, true
	}
}
