package sessionproxytest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

// TestReadDirectives: ReadDirectives reads what the proxy applies and
// refuses what the proxy answers with 502, so that a handler's mistake
// fails its unit test, not a request behind the proxy.
func TestReadDirectives(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		want    sessionproxytest.Directives
		wantErr bool
	}{
		{"none", http.Header{"Content-Type": {"text/plain"}}, sessionproxytest.Directives{}, false},
		{"set", http.Header{"X-Session-Set": {`{"a":1,"b":null}`}}, sessionproxytest.Directives{Set: map[string]any{"a": 1.0, "b": nil}}, false},
		{"destroy true", http.Header{"X-Session-Destroy": {"true"}}, sessionproxytest.Directives{Destroy: true}, false},
		{"destroy 1", http.Header{"X-Session-Destroy": {"1"}}, sessionproxytest.Directives{Destroy: true}, false},
		{"destroy others", http.Header{"X-Session-Destroy": {"others"}}, sessionproxytest.Directives{DestroyOthers: true}, false},
		{"destroy all", http.Header{"X-Session-Destroy": {"all"}}, sessionproxytest.Directives{Destroy: true, DestroyOthers: true}, false},
		{"renew 1", http.Header{"X-Session-Renew": {"1"}}, sessionproxytest.Directives{Renew: true}, false},
		{"max age ms", http.Header{"X-Session-Max-Age": {"60000"}}, sessionproxytest.Directives{MaxAge: "60000"}, false},
		{"max age session", http.Header{"X-Session-Max-Age": {"session"}}, sessionproxytest.Directives{MaxAge: "session"}, false},
		{"the token echoed back", http.Header{"X-Session": {"a.b.c"}}, sessionproxytest.Directives{}, false},
		{"set not JSON", http.Header{"X-Session-Set": {`{"a":`}}, sessionproxytest.Directives{}, true},
		{"set not an object", http.Header{"X-Session-Set": {`[1]`}}, sessionproxytest.Directives{}, true},
		{"set null", http.Header{"X-Session-Set": {`null`}}, sessionproxytest.Directives{}, true},
		{"set a reserved key", http.Header{"X-Session-Set": {`{"_expire":1}`}}, sessionproxytest.Directives{}, true},
		{"a second set malformed", http.Header{"X-Session-Set": {`{"a":1}`, `nope`}}, sessionproxytest.Directives{}, true},
		{"destroy TRUE", http.Header{"X-Session-Destroy": {"TRUE"}}, sessionproxytest.Directives{}, true},
		{"destroy yes", http.Header{"X-Session-Destroy": {"yes"}}, sessionproxytest.Directives{}, true},
		{"renew false", http.Header{"X-Session-Renew": {"false"}}, sessionproxytest.Directives{}, true},
		{"max age zero", http.Header{"X-Session-Max-Age": {"0"}}, sessionproxytest.Directives{}, true},
		{"max age fraction", http.Header{"X-Session-Max-Age": {"1.5"}}, sessionproxytest.Directives{}, true},
		{"max age past 100 years", http.Header{"X-Session-Max-Age": {"3153600000001"}}, sessionproxytest.Directives{}, true},
		{"a typo", http.Header{"X-Session-Sett": {`{"a":1}`}}, sessionproxytest.Directives{}, true},
		{"underscores", http.Header{"X_session_set": {`{"a":1}`}}, sessionproxytest.Directives{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sessionproxytest.ReadDirectives(tc.header)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ReadDirectives(%v) error %v, want error: %v", tc.header, err, tc.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadDirectives(%v) = %+v, want %+v", tc.header, got, tc.want)
			}
		})
	}
}

// TestReadDirectivesFor: the directives are named after the token header.
func TestReadDirectivesFor(t *testing.T) {
	h := http.Header{"X-App-Session-Renew": {"true"}, "X-Session-Set": {`{"a":1}`}}
	d, err := sessionproxytest.ReadDirectivesFor(h, "x-app-session")
	if err != nil || !d.Renew || d.Set != nil {
		t.Errorf("ReadDirectivesFor = %+v, %v; want Renew only", d, err)
	}
	h["X-App-Session-Destroy"] = []string{"nope"}
	if _, err := sessionproxytest.ReadDirectivesFor(h, "X-App-Session"); err == nil {
		t.Error("a malformed X-App-Session-Destroy was read")
	}
}

// TestReadDirectivesOfLogouts: a unit test of a handler tells "log out my
// other devices" (DestroyOthers only) from "log out everywhere" (Destroy
// and DestroyOthers) and from a plain Destroy.
func TestReadDirectivesOfLogouts(t *testing.T) {
	tests := []struct {
		name    string
		handler func(s *sessionproxy.Session) error
		want    sessionproxytest.Directives
	}{
		{"Destroy", (*sessionproxy.Session).Destroy, sessionproxytest.Directives{Destroy: true}},
		{"DestroyOthers", (*sessionproxy.Session).DestroyOthers, sessionproxytest.Directives{DestroyOthers: true}},
		{"DestroyAll", (*sessionproxy.Session).DestroyAll, sessionproxytest.Directives{Destroy: true, DestroyOthers: true}},
		{"Destroy and DestroyOthers", func(s *sessionproxy.Session) error {
			return errors.Join(s.DestroyOthers(), s.Destroy())
		}, sessionproxytest.Directives{Destroy: true, DestroyOthers: true}},
	}
	m, err := sessionproxy.New(sessionproxy.Options{Secret: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := tc.handler(sessionproxy.FromRequest(r)); err != nil {
					t.Error(err)
				}
			})).ServeHTTP(rec, sessionproxytest.NewRequest("test-secret", "POST", "/logout", sessionproxytest.Session{
				Data: map[string]any{"user": map[string]any{"id": 7}},
			}))
			got, err := sessionproxytest.ReadDirectives(rec.Header())
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("directives %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
