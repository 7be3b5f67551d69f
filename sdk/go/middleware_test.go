package sessionproxy_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

const secret = "test-secret-0123456789abcdef0123456789"

var john = map[string]any{"name": "john doe", "age": 30}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts sessionproxy.Options
		want string // in the error: what was wrong
	}{
		{"nothing", sessionproxy.Options{}, "Options.Secret"},
		{"audience but no key", sessionproxy.Options{Audience: "orders"}, "Options.Secret"},
		{"relative JWKS URL", sessionproxy.Options{JWKSURL: "/jwks.json"}, `"/jwks.json"`},
		{"JWKS URL not http", sessionproxy.Options{JWKSURL: "file:///etc/jwks.json"}, `"file:///etc/jwks.json"`},
		{"JWKS URL unparsable", sessionproxy.Options{JWKSURL: "http://[::1"}, "missing ']'"},
		{"header with a space", sessionproxy.Options{Secret: secret, Header: "X Session"}, `"X Session"`},
		{"empty old secret", sessionproxy.Options{Secret: secret, OldSecrets: []string{"old", ""}}, "OldSecrets[1]"},
		{"old secrets but no secret", sessionproxy.Options{JWKSURL: "http://127.0.0.1/jwks.json", OldSecrets: []string{"old"}}, "Options.Secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sessionproxy.New(tc.opts)
			if err == nil {
				t.Fatalf("New = %v, want an error", m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want it to say %s", err, tc.want)
			}
		})
	}
}

// serve runs handler behind a Manager with opts (Secret defaults to
// secret) for a request carrying sess, and returns the recorder.
func serve(t *testing.T, opts sessionproxy.Options, sess sessionproxytest.Session, handler http.HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	if opts.Secret == "" {
		opts.Secret = secret
	}
	m, err := sessionproxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(handler).ServeHTTP(rec, sessionproxytest.NewRequest(secret, "GET", "/", sess))
	return rec
}

func directives(t *testing.T, rec *httptest.ResponseRecorder) sessionproxytest.Directives {
	t.Helper()
	d, err := sessionproxytest.ReadDirectives(rec.Header())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirectives: what a handler does, and the headers the proxy gets.
func TestDirectives(t *testing.T) {
	arrived := map[string]any{"user": john, "cart": []any{1, 2}, "views": 1}
	tests := []struct {
		name    string
		handler func(t *testing.T, s *sessionproxy.Session)
		want    map[string]string // header → value; absent headers must be absent
	}{
		{"nothing", func(t *testing.T, s *sessionproxy.Session) {}, nil},
		{"read only", func(t *testing.T, s *sessionproxy.Session) { s.Get("user") }, nil},
		{"same value again", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("user", map[string]any{"age": 30.0, "name": "john doe"}))
		}, nil},
		{"one key", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Set("views", 2)) },
			map[string]string{"X-Session-Set": `{"views":2}`}},
		{"nil deletes", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Set("views", nil)) },
			map[string]string{"X-Session-Set": `{"views":null}`}},
		{"delete", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Delete("cart")) },
			map[string]string{"X-Session-Set": `{"cart":null}`}},
		{"nested map changed and set again", func(t *testing.T, s *sessionproxy.Session) {
			u := s.Get("user").(map[string]any)
			u["age"] = 31
			must(t, s.Set("user", u))
		}, map[string]string{"X-Session-Set": `{"user":{"age":31}}`}},
		{"a map read, another key set", func(t *testing.T, s *sessionproxy.Session) {
			_ = s.Get("user").(map[string]any)["name"]
			_ = s.Get("cart")
			must(t, s.Set("views", 2))
		}, map[string]string{"X-Session-Set": `{"views":2}`}},
		{"a map changed in place, another deleted", func(t *testing.T, s *sessionproxy.Session) {
			s.Get("cart").([]any)[0] = 9
			must(t, s.Delete("user"))
		}, map[string]string{"X-Session-Set": `{"cart":[9,2],"user":null}`}},
		{"nested map changed in place, no Set", func(t *testing.T, s *sessionproxy.Session) {
			s.Get("user").(map[string]any)["name"] = "jane doe"
		}, map[string]string{"X-Session-Set": `{"user":{"name":"jane doe"}}`}},
		{"a struct", func(t *testing.T, s *sessionproxy.Session) {
			type user struct {
				Name string `json:"name"`
				Age  int    `json:"age"`
			}
			must(t, s.Set("user", user{"john doe", 31}))
		}, map[string]string{"X-Session-Set": `{"user":{"age":31}}`}},
		{"a nil member is dropped", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("prefs", map[string]any{"a": nil, "b": 1}))
		}, map[string]string{"X-Session-Set": `{"prefs":{"b":1}}`}},
		{"a nil in an array is kept", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("cart", []any{map[string]any{"id": 1, "note": nil}, nil}))
		}, map[string]string{"X-Session-Set": `{"cart":[{"id":1,"note":null},null]}`}},
		{"non-ASCII is escaped", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Set("name", "Zoë ✓ 😀")) },
			map[string]string{"X-Session-Set": `{"name":"Zo\u00eb \u2713 \ud83d\ude00"}`}},
		{"DEL is escaped", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Set("name", "a\x7fb")) },
			map[string]string{"X-Session-Set": `{"name":"a\u007fb"}`}},
		{"destroy", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Destroy()) },
			map[string]string{"X-Session-Destroy": "true"}},
		{"destroy then set: the whole new data", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Destroy())
			must(t, s.Set("views", 1))
		}, map[string]string{"X-Session-Destroy": "true", "X-Session-Set": `{"views":1}`}},
		{"destroy drops a max age set before", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.SetMaxAge(time.Hour))
			must(t, s.Destroy())
		}, map[string]string{"X-Session-Destroy": "true"}},
		{"a max age set after destroy goes with the new session", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Destroy())
			must(t, s.Set("views", 1))
			must(t, s.SetMaxAge(time.Hour))
		}, map[string]string{"X-Session-Destroy": "true", "X-Session-Set": `{"views":1}`, "X-Session-Max-Age": "3600000"}},
		{"destroy wins over renew", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Renew())
			must(t, s.Destroy())
		}, map[string]string{"X-Session-Destroy": "true"}},
		{"destroy others", func(t *testing.T, s *sessionproxy.Session) { must(t, s.DestroyOthers()) },
			map[string]string{"X-Session-Destroy": "others"}},
		{"login ending the user's other sessions: set, renew, destroy others", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("user", map[string]any{"name": "jane"}))
			must(t, s.Renew())
			must(t, s.DestroyOthers())
		}, map[string]string{"X-Session-Destroy": "others", "X-Session-Set": `{"user":{"age":null,"name":"jane"}}`, "X-Session-Renew": "true"}},
		{"destroy others keeps a max age", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.SetMaxAge(time.Hour))
			must(t, s.DestroyOthers())
		}, map[string]string{"X-Session-Destroy": "others", "X-Session-Max-Age": "3600000"}},
		{"destroy all", func(t *testing.T, s *sessionproxy.Session) { must(t, s.DestroyAll()) },
			map[string]string{"X-Session-Destroy": "all"}},
		{"destroy all then set: the whole new data", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.DestroyAll())
			must(t, s.Set("views", 1))
		}, map[string]string{"X-Session-Destroy": "all", "X-Session-Set": `{"views":1}`}},
		{"destroy all drops a max age and a renew set before", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.SetMaxAge(time.Hour))
			must(t, s.Renew())
			must(t, s.DestroyAll())
		}, map[string]string{"X-Session-Destroy": "all"}},
		{"destroy then destroy others is all", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Destroy())
			must(t, s.DestroyOthers())
		}, map[string]string{"X-Session-Destroy": "all"}},
		{"destroy others then destroy is all, with the new data", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("views", 5))
			must(t, s.DestroyOthers())
			must(t, s.Destroy())
			must(t, s.Set("cart", []any{}))
		}, map[string]string{"X-Session-Destroy": "all", "X-Session-Set": `{"cart":[]}`}},
		{"renew", func(t *testing.T, s *sessionproxy.Session) { must(t, s.Renew()) },
			map[string]string{"X-Session-Renew": "true"}},
		{"login: set and renew", func(t *testing.T, s *sessionproxy.Session) {
			must(t, s.Set("user", map[string]any{"name": "jane"}))
			must(t, s.Renew())
		}, map[string]string{"X-Session-Set": `{"user":{"age":null,"name":"jane"}}`, "X-Session-Renew": "true"}},
		{"max age", func(t *testing.T, s *sessionproxy.Session) { must(t, s.SetMaxAge(30*24*time.Hour)) },
			map[string]string{"X-Session-Max-Age": "2592000000"}},
		{"browser session", func(t *testing.T, s *sessionproxy.Session) { must(t, s.SetBrowserSession()) },
			map[string]string{"X-Session-Max-Age": "session"}},
	}
	all := []string{"X-Session-Set", "X-Session-Destroy", "X-Session-Renew", "X-Session-Max-Age"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, sessionproxy.Options{}, sessionproxytest.Session{Data: arrived}, func(w http.ResponseWriter, r *http.Request) {
				tc.handler(t, sessionproxy.FromRequest(r))
				io.WriteString(w, "ok")
			})
			for _, h := range all {
				got, sent := rec.Header()[h]
				want, ok := tc.want[h]
				switch {
				case !ok && sent:
					t.Errorf("%s: %q, want none", h, got)
				case ok && len(got) != 1:
					t.Errorf("%s: %q, want %s", h, got, want)
				case ok && h == "X-Session-Set" && !sameJSON(t, got[0], want):
					t.Errorf("%s: %s, want %s", h, got[0], want)
				case ok && strings.ContainsFunc(got[0], func(r rune) bool { return r < ' ' || r >= 0x7f }):
					t.Errorf("%s: %q is not printable ASCII", h, got[0])
				case ok && h != "X-Session-Set" && got[0] != want:
					t.Errorf("%s: %q, want %q", h, got[0], want)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSessionAccessors(t *testing.T) {
	serve(t, sessionproxy.Options{}, sessionproxytest.Session{ID: "abc", New: true, Data: map[string]any{"user": john}}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		if s.ID() != "abc" || !s.IsNew() {
			t.Errorf("ID %q, IsNew %v", s.ID(), s.IsNew())
		}
		var u struct {
			Name string
			Age  int
		}
		if ok, err := s.Decode("user", &u); !ok || err != nil || u.Name != "john doe" || u.Age != 30 {
			t.Errorf("Decode: %v %v %+v", ok, err, u)
		}
		if ok, err := s.Decode("nothing", &u); ok || err != nil {
			t.Errorf("Decode of a missing key: %v %v", ok, err)
		}
		if err := s.Set("_expire", 1); !errors.Is(err, sessionproxy.ErrReservedKey) {
			t.Errorf("Set(_expire) = %v, want ErrReservedKey", err)
		}
		if err := s.Set("ch", make(chan int)); err == nil {
			t.Error("Set of a channel succeeded")
		}
		if err := s.SetMaxAge(0); err == nil {
			t.Error("SetMaxAge(0) succeeded")
		}
	})
}

// TestVaryCookie: a response whose handler read or changed the session
// depends on the cookie, so it says Vary: Cookie even when it changes
// nothing (the proxy adds it only where it sets the cookie); one that
// never touched the session does not.
func TestVaryCookie(t *testing.T) {
	arrived := sessionproxytest.Session{ID: "abc", Data: map[string]any{"user": john}}
	tests := []struct {
		name    string
		vary    []string // the handler's own Vary
		handler func(w http.ResponseWriter, s *sessionproxy.Session)
		want    []string
	}{
		{"untouched", nil, func(w http.ResponseWriter, s *sessionproxy.Session) {}, nil},
		{"untouched, its own Vary", []string{"Accept-Encoding"}, func(w http.ResponseWriter, s *sessionproxy.Session) {}, []string{"Accept-Encoding"}},
		{"Get", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Get("user") }, []string{"Cookie"}},
		{"Get of a missing key", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Get("nothing") }, []string{"Cookie"}},
		{"Decode", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { _, _ = s.Decode("user", new(any)) }, []string{"Cookie"}},
		{"Keys", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Keys() }, []string{"Cookie"}},
		{"ID", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { s.ID() }, []string{"Cookie"}},
		{"IsNew", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { s.IsNew() }, []string{"Cookie"}},
		{"Set", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { must(t, s.Set("views", 1)) }, []string{"Cookie"}},
		{"Destroy", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { must(t, s.Destroy()) }, []string{"Cookie"}},
		{"Renew", nil, func(w http.ResponseWriter, s *sessionproxy.Session) { must(t, s.Renew()) }, []string{"Cookie"}},
		{"Get, then a write", nil, func(w http.ResponseWriter, s *sessionproxy.Session) {
			s.Get("user")
			_, _ = io.WriteString(w, "hi")
		}, []string{"Cookie"}},
		{"Get after the headers went out", nil, func(w http.ResponseWriter, s *sessionproxy.Session) {
			_, _ = io.WriteString(w, "hi")
			s.Get("user")
		}, nil},
		{"added to its own Vary", []string{"Accept-Encoding"}, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Get("user") }, []string{"Accept-Encoding", "Cookie"}},
		{"already in its own Vary", []string{"accept-encoding, cookie"}, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Get("user") }, []string{"accept-encoding, cookie"}},
		{"its own Vary is *", []string{"*"}, func(w http.ResponseWriter, s *sessionproxy.Session) { s.Get("user") }, []string{"*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, sessionproxy.Options{}, arrived, func(w http.ResponseWriter, r *http.Request) {
				for _, v := range tc.vary {
					w.Header().Add("Vary", v)
				}
				tc.handler(w, sessionproxy.FromRequest(r))
			})
			if got := rec.Result().Header.Values("Vary"); !slices.Equal(got, tc.want) {
				t.Errorf("Vary = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDirectivesSetByHandAreReplaced: the middleware owns the directive
// headers. Ones the handler wrote itself would undo or add to the
// session's changes, so only the session's own go to the proxy; another
// X-Session- name is left, for the proxy to refuse.
func TestDirectivesSetByHandAreReplaced(t *testing.T) {
	arrived := sessionproxytest.Session{ID: "abc", Data: map[string]any{"user": john}}
	rec := serve(t, sessionproxy.Options{}, arrived, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Destroy", "true")
		w.Header()["x-session-renew"] = []string{"true"} // not canonical: as a map write leaves it
		w.Header().Set("X-Session-Max-Age", "5")
		w.Header().Set("X-Session-Id", "mine")
		must(t, sessionproxy.FromRequest(r).Set("views", 1))
	})
	h := rec.Result().Header
	for _, name := range []string{"X-Session-Destroy", "X-Session-Renew", "x-session-renew", "X-Session-Max-Age"} {
		if v, ok := h[name]; ok {
			t.Errorf("%s: %q set by hand reached the proxy", name, v)
		}
	}
	if got := h.Values("X-Session-Set"); !slices.Equal(got, []string{`{"views":1}`}) {
		t.Errorf("X-Session-Set = %q, want the session's change", got)
	}
	if got := h.Get("X-Session-Id"); got != "mine" {
		t.Errorf("X-Session-Id = %q, want it left as the handler wrote it", got)
	}
}

// TestChangeAfterHeadersSent: every change after the first write returns
// ErrHeadersSent and leaves the directives alone.
func TestChangeAfterHeadersSent(t *testing.T) {
	first := map[string]func(w http.ResponseWriter){
		"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
		"Write":       func(w http.ResponseWriter) { io.WriteString(w, "hello") },
		"Flush":       func(w http.ResponseWriter) { w.(http.Flusher).Flush() },
		"ResponseController.Flush": func(w http.ResponseWriter) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		},
		"io.Copy": func(w http.ResponseWriter) { io.Copy(w, strings.NewReader("hello")) },
	}
	changes := map[string]func(s *sessionproxy.Session) error{
		"Set":               func(s *sessionproxy.Session) error { return s.Set("late", 1) },
		"Delete":            func(s *sessionproxy.Session) error { return s.Delete("early") },
		"Destroy":           func(s *sessionproxy.Session) error { return s.Destroy() },
		"DestroyOthers":     func(s *sessionproxy.Session) error { return s.DestroyOthers() },
		"DestroyAll":        func(s *sessionproxy.Session) error { return s.DestroyAll() },
		"Renew":             func(s *sessionproxy.Session) error { return s.Renew() },
		"SetMaxAge":         func(s *sessionproxy.Session) error { return s.SetMaxAge(time.Hour) },
		"SetBrowserSession": func(s *sessionproxy.Session) error { return s.SetBrowserSession() },
	}
	for wname, write := range first {
		for cname, change := range changes {
			t.Run(wname+"/"+cname, func(t *testing.T) {
				told := 0
				opts := sessionproxy.Options{OnLateChange: func(*http.Request, error) { told++ }}
				rec := serve(t, opts, sessionproxytest.Session{}, func(w http.ResponseWriter, r *http.Request) {
					s := sessionproxy.FromRequest(r)
					must(t, s.Set("early", 1))
					write(w)
					if err := change(s); !errors.Is(err, sessionproxy.ErrHeadersSent) {
						t.Errorf("change after %s: %v, want ErrHeadersSent", wname, err)
					}
				})
				d := directives(t, rec)
				if !sameJSON(t, rec.Header().Get("X-Session-Set"), `{"early":1}`) || d.Destroy || d.DestroyOthers || d.Renew || d.MaxAge != "" {
					t.Errorf("directives %+v, want only the early Set", d)
				}
				if told != 1 {
					t.Errorf("OnLateChange told %d times, want once", told)
				}
				if !rec.Flushed && wname != "WriteHeader" && wname != "Write" && wname != "io.Copy" {
					t.Error("not flushed")
				}
			})
		}
	}
}

// TestNullsTheProxyHolds: a null the proxy stores (in an array, which a
// merge patch replaces whole, or in a cookie a Koa app wrote) is the
// session as it is, not a change to send back.
func TestNullsTheProxyHolds(t *testing.T) {
	arrived := sessionproxytest.Session{Data: map[string]any{
		"a": 1, "x": nil, "u": map[string]any{"b": nil, "c": 2},
		"cart": []any{map[string]any{"id": 1, "note": nil}, nil},
	}}
	tests := []struct {
		name   string
		change func(s *sessionproxy.Session) error
		want   string // X-Session-Set; "" for none
	}{
		{"read only", func(s *sessionproxy.Session) error { s.Get("cart"); return nil }, ""},
		{"a null member set to nil", func(s *sessionproxy.Session) error { return s.Set("x", nil) }, ""},
		{"another key", func(s *sessionproxy.Session) error { return s.Set("a", 2) }, `{"a":2}`},
		{"the array changed", func(s *sessionproxy.Session) error {
			return s.Set("cart", []any{map[string]any{"id": 1, "note": nil}})
		}, `{"cart":[{"id":1,"note":null}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, sessionproxy.Options{}, arrived, func(w http.ResponseWriter, r *http.Request) {
				must(t, tc.change(sessionproxy.FromRequest(r)))
			})
			got, sent := rec.Header()["X-Session-Set"]
			switch {
			case tc.want == "" && sent:
				t.Errorf("X-Session-Set %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !sameJSON(t, got[0], tc.want)):
				t.Errorf("X-Session-Set %q, want %s", got, tc.want)
			}
		})
	}
}

// TestHijack: a handler that takes the connection over (a WebSocket
// upgrade) gets an http.Hijacker; its session changes reach the proxy
// when it wrote its 101 with WriteHeader. When it would write the 101
// itself, the hijack is refused with ErrHijacked, and the changes go
// with the response it writes instead.
func TestHijack(t *testing.T) {
	tests := []struct {
		name      string
		change    bool // Set before hijacking
		writeHead bool // WriteHeader(101) before hijacking
		wantErr   error
		wantSet   string // X-Session-Set on the 101
	}{
		{"unchanged session", false, false, nil, ""},
		{"changed, 101 written by the handler", true, false, sessionproxy.ErrHijacked, `{"a":1}`},
		{"changed, 101 written with WriteHeader", true, true, nil, `{"a":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sessionproxy.New(sessionproxy.Options{Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessionproxy.FromRequest(r)
				if tc.change {
					must(t, s.Set("a", 1))
				}
				if _, ok := w.(http.Hijacker); !ok {
					t.Error("the ResponseWriter is not an http.Hijacker")
				}
				if tc.writeHead {
					w.Header().Set("Upgrade", "test")
					w.Header().Set("Connection", "Upgrade")
					w.WriteHeader(http.StatusSwitchingProtocols)
				}
				conn, brw, err := http.NewResponseController(w).Hijack()
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Hijack: %v, want %v", err, tc.wantErr)
				}
				if err != nil {
					if _, _, again := w.(http.Hijacker).Hijack(); !errors.Is(again, err) {
						t.Errorf("Hijack again: %v, want %v", again, err)
					}
					http.Error(w, "no upgrade", http.StatusInternalServerError)
					return
				}
				defer conn.Close()
				if err := s.Set("late", 1); !errors.Is(err, sessionproxy.ErrHeadersSent) {
					t.Errorf("Set after Hijack: %v, want ErrHeadersSent", err)
				}
				if !tc.writeHead {
					brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
				}
				brw.WriteString("hello")
				brw.Flush()
			})))
			defer srv.Close()
			req := sessionproxytest.NewRequest(secret, "GET", srv.URL, sessionproxytest.Session{})
			req.RequestURI = ""
			req.Header.Set("Upgrade", "test")
			req.Header.Set("Connection", "Upgrade")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			want := http.StatusSwitchingProtocols
			if tc.wantErr != nil {
				want = http.StatusInternalServerError
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d", resp.StatusCode, want)
			}
			if got := resp.Header.Get("X-Session-Set"); got != tc.wantSet {
				t.Errorf("X-Session-Set %q on the %d, want %q", got, resp.StatusCode, tc.wantSet)
			}
		})
	}
}

// TestLateChange: a change after the headers went out cannot reach the
// proxy. No call returns an error for a map from Get changed in place,
// and a handler may ignore the ErrHeadersSent of a call, so the
// middleware tells OnLateChange of both when the handler returns.
func TestLateChange(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, s *sessionproxy.Session)
		want    bool // OnLateChange called
	}{
		{"Set after the body started, its error ignored", func(w http.ResponseWriter, s *sessionproxy.Session) {
			io.WriteString(w, "streaming")
			s.Set("views", 2)
		}, true},
		{"Renew after WriteHeader, its error ignored", func(w http.ResponseWriter, s *sessionproxy.Session) {
			w.WriteHeader(http.StatusOK)
			s.Renew()
		}, true},
		{"Destroy and SetMaxAge after Flush: told once", func(w http.ResponseWriter, s *sessionproxy.Session) {
			w.(http.Flusher).Flush()
			s.Destroy()
			s.SetMaxAge(time.Hour)
		}, true},
		{"DestroyOthers after the body started, its error ignored", func(w http.ResponseWriter, s *sessionproxy.Session) {
			io.WriteString(w, "streaming")
			s.DestroyOthers()
		}, true},
		{"DestroyAll after WriteHeader, its error ignored", func(w http.ResponseWriter, s *sessionproxy.Session) {
			w.WriteHeader(http.StatusOK)
			s.DestroyAll()
		}, true},
		{"Renew before the body", func(w http.ResponseWriter, s *sessionproxy.Session) {
			must(t, s.Renew())
			io.WriteString(w, "ok")
		}, false},
		{"a reserved key refused before the body", func(w http.ResponseWriter, s *sessionproxy.Session) {
			s.Set("_expire", 1)
			io.WriteString(w, "ok")
		}, false},
		{"changed after the body started", func(w http.ResponseWriter, s *sessionproxy.Session) {
			u := s.Get("user").(map[string]any)
			io.WriteString(w, "streaming")
			u["age"] = 31
		}, true},
		{"changed before the body", func(w http.ResponseWriter, s *sessionproxy.Session) {
			u := s.Get("user").(map[string]any)
			u["age"] = 31
			io.WriteString(w, "ok")
		}, false},
		{"read after the body started", func(w http.ResponseWriter, s *sessionproxy.Session) {
			io.WriteString(w, "streaming")
			_ = s.Get("user").(map[string]any)["age"]
		}, false},
		{"another key set, a map only read after the body started", func(w http.ResponseWriter, s *sessionproxy.Session) {
			must(t, s.Set("views", 2))
			io.WriteString(w, "streaming")
			_ = s.Get("user").(map[string]any)["name"]
		}, false},
		{"nothing touched, a map changed after the body started", func(w http.ResponseWriter, s *sessionproxy.Session) {
			io.WriteString(w, "streaming")
			s.Get("user").(map[string]any)["age"] = 31
		}, true},
		{"a slice given to Set, changed after", func(w http.ResponseWriter, s *sessionproxy.Session) {
			cart := []any{1, 2}
			must(t, s.Set("cart", cart))
			io.WriteString(w, "streaming")
			cart[0] = 9
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []error
			opts := sessionproxy.Options{OnLateChange: func(r *http.Request, err error) { got = append(got, err) }}
			serve(t, opts, sessionproxytest.Session{Data: map[string]any{"user": john}}, func(w http.ResponseWriter, r *http.Request) {
				tc.handler(w, sessionproxy.FromRequest(r))
			})
			if tc.want != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("OnLateChange called with %v, want called: %v", got, tc.want)
			}
			if tc.want && !errors.Is(got[0], sessionproxy.ErrHeadersSent) {
				t.Errorf("error %v is not ErrHeadersSent", got[0])
			}
		})
	}
}

// An informational response is not the response: changes still count.
func TestEarlyHintsDoNotCommit(t *testing.T) {
	rec := serve(t, sessionproxy.Options{}, sessionproxytest.Session{}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		must(t, sessionproxy.FromRequest(r).Set("a", 1))
	})
	if got := rec.Header().Get("X-Session-Set"); got != `{"a":1}` {
		t.Errorf("X-Session-Set %q", got)
	}
}

func TestWithoutValidToken(t *testing.T) {
	other, err := sessionproxytest.MintToken("another-secret", sessionproxytest.Session{})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := sessionproxytest.MintToken(secret, sessionproxytest.Session{TTL: -time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"none": "", "garbage": "a.b.c", "forged": other, "expired": expired}
	for name, token := range tokens {
		t.Run(name, func(t *testing.T) {
			ran := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				s := sessionproxy.FromRequest(r)
				if s != nil {
					t.Errorf("a session without a valid token: %v", s)
				}
				if s.Get("user") != nil || s.ID() != "" || s.Keys() != nil {
					t.Error("the nil session is not empty")
				}
				for name, change := range map[string]func() error{"Set": func() error { return s.Set("user", john) },
					"DestroyOthers": s.DestroyOthers, "DestroyAll": s.DestroyAll} {
					if err := change(); !errors.Is(err, sessionproxy.ErrNoSession) {
						t.Errorf("%s on no session: %v, want ErrNoSession", name, err)
					}
				}
			})
			req := httptest.NewRequest("GET", "/", nil)
			if token != "" {
				req.Header.Set("X-Session", token)
			}

			m, _ := sessionproxy.New(sessionproxy.Options{Secret: secret})
			rec := httptest.NewRecorder()
			m.Handler(next).ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || ran {
				t.Errorf("default: status %d, handler ran %v; want 401, not run", rec.Code, ran)
			}

			m, _ = sessionproxy.New(sessionproxy.Options{Secret: secret, Optional: true})
			rec = httptest.NewRecorder()
			m.Handler(next).ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !ran {
				t.Errorf("Optional: status %d, handler ran %v; want 200, run", rec.Code, ran)
			}

			var got error
			m, _ = sessionproxy.New(sessionproxy.Options{Secret: secret, Unauthorized: func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				http.Redirect(w, r, "/login", http.StatusFound)
			}})
			rec = httptest.NewRecorder()
			m.Handler(next).ServeHTTP(rec, req)
			if rec.Code != http.StatusFound || got == nil {
				t.Errorf("Unauthorized: status %d, err %v", rec.Code, got)
			}
		})
	}
}

// TestOldSecrets: during a token.secret rotation, a token signed with an
// old secret verifies only when that secret is listed; one signed with
// the current secret always; one signed with any other secret never.
func TestOldSecrets(t *testing.T) {
	const oldSecret, otherSecret = "old-secret-0123456789abcdef01234567", "other-secret-0123456789abcdef0123456"
	tests := []struct {
		name string
		old  []string
		// the secret the token is signed with → whether it verifies
		want map[string]bool
	}{
		{"none", nil, map[string]bool{secret: true, oldSecret: false, otherSecret: false}},
		{"the old one", []string{oldSecret}, map[string]bool{secret: true, oldSecret: true, otherSecret: false}},
		{"two old ones", []string{"older-secret", oldSecret}, map[string]bool{secret: true, oldSecret: true, otherSecret: false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sessionproxy.New(sessionproxy.Options{Secret: secret, OldSecrets: tc.old})
			if err != nil {
				t.Fatal(err)
			}
			for signer, want := range tc.want {
				token, err := sessionproxytest.MintToken(signer, sessionproxytest.Session{Data: map[string]any{"user": "john"}})
				if err != nil {
					t.Fatal(err)
				}
				c, err := m.Verify(t.Context(), token)
				switch {
				case want && (err != nil || c.Session["user"] != "john"):
					t.Errorf("signed with %q: %v, %v; want it verified", signer, c, err)
				case !want && !errors.Is(err, sessionproxy.ErrSignature):
					t.Errorf("signed with %q: %v; want ErrSignature", signer, err)
				}

				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("X-Session", token)
				rec := httptest.NewRecorder()
				m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, req)
				if got := rec.Code == http.StatusOK; got != want {
					t.Errorf("signed with %q: middleware answered %d", signer, rec.Code)
				}
			}
		})
	}
}

func TestCustomHeaderAndAudience(t *testing.T) {
	for _, aud := range []string{"orders", "billing"} {
		m, err := sessionproxy.New(sessionproxy.Options{Secret: secret, Header: "x-app-session", Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		req := sessionproxytest.NewRequest(secret, "GET", "/", sessionproxytest.Session{Audience: "orders", Header: "X-App-Session"})
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			must(t, sessionproxy.FromRequest(r).Renew())
		})).ServeHTTP(rec, req)
		d, err := sessionproxytest.ReadDirectivesFor(rec.Header(), "X-App-Session")
		switch {
		case aud == "orders" && (rec.Code != 200 || err != nil || !d.Renew):
			t.Errorf("audience %s: %d %v", aud, rec.Code, rec.Header())
		case aud == "orders" && len(rec.Header()["X-Session-Renew"]) > 0:
			t.Errorf("audience %s: the directive went out as X-Session-Renew", aud)
		case aud == "billing" && rec.Code != http.StatusUnauthorized:
			t.Errorf("audience %s: %d, want 401", aud, rec.Code)
		}
	}
}

// A handler may change the session from several goroutines.
func TestConcurrentChanges(t *testing.T) {
	rec := serve(t, sessionproxy.Options{}, sessionproxytest.Session{}, func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				if err := s.Set(string(rune('a'+i)), i); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})
	if d := directives(t, rec); len(d.Set) != 10 {
		t.Errorf("Set %v, want 10 keys", d.Set)
	}
}

// A value changed in place into something JSON cannot hold is not
// dropped silently: the response becomes a 500.
func TestUnencodableSessionIs500(t *testing.T) {
	rec := serve(t, sessionproxy.Options{}, sessionproxytest.Session{Data: map[string]any{"user": john}}, func(w http.ResponseWriter, r *http.Request) {
		sessionproxy.FromRequest(r).Get("user").(map[string]any)["ch"] = make(chan int)
		io.WriteString(w, "ok")
	})
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "ok") {
		t.Errorf("status %d, body %q; want 500 without the handler's body", rec.Code, rec.Body)
	}
}

// A request the default Unauthorized refuses is logged with the reason the
// client is not told: a secret that does not match the proxy's shows in
// the app's log, not only as 401s.
func TestRefusalsAreLoggedWithTheirReason(t *testing.T) {
	other, err := sessionproxytest.MintToken("another-secret", sessionproxytest.Session{})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "sessionproxy", "sess": map[string]any{}, "exp": time.Now().Add(time.Minute).Unix()})
	tok.Header["kid"] = "k1"
	edToken, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer down.Close()

	tests := []struct {
		name   string
		opts   sessionproxy.Options
		token  string
		status int
		want   []string // in the log line
	}{
		{"no token", sessionproxy.Options{Secret: secret}, "", http.StatusUnauthorized, []string{"level=INFO", "refused with 401", "path=/account"}},
		{"another secret", sessionproxy.Options{Secret: secret}, other, http.StatusUnauthorized, []string{"level=INFO", "refused with 401", "signature"}},
		{"JWKS down", sessionproxy.Options{JWKSURL: down.URL + "/jwks.json"}, edToken, http.StatusServiceUnavailable, []string{"level=ERROR", "refused with 503", down.URL, "500"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			tc.opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			m, err := sessionproxy.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/account", nil)
			if tc.token != "" {
				req.Header.Set("X-Session", tc.token)
			}
			rec := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log %q, want %q in it", log.String(), w)
				}
			}
		})
	}
}
