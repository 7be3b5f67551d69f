package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sessionproxy/sessionproxy/session"
)

const testSecret = "secret-0123456789abcdef0123456789abcdef"

// newTestProxy puts a Proxy in front of upstream.
func newTestProxy(t testing.TB, upstream http.Handler) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	sm, err := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

// claimsOf verifies the session token of r as an upstream would.
func claimsOf(t testing.TB, r *http.Request) *Claims {
	t.Helper()
	var c Claims
	_, err := jwt.ParseWithClaims(r.Header.Get("X-Session"), &c, func(*jwt.Token) (any, error) {
		return []byte(testSecret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired())
	if err != nil {
		t.Errorf("upstream could not verify the token: %v", err)
		return &Claims{}
	}
	return &c
}

func TestToken(t *testing.T) {
	var got *Claims
	srv := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = claimsOf(t, r)
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.SID == "" || string(got.Sess) != "{}" || !got.New {
		t.Errorf("claims %+v, want a new session with an id and {}", got)
	}
	if d := got.ExpiresAt.Sub(got.IssuedAt.Time); d != 60*time.Second {
		t.Errorf("token lifetime %v, want the 60s default", d)
	}
}

func TestParseDirectives(t *testing.T) {
	p := &Proxy{prefix: "x-session", tokenHeader: "X-Session", dirSet: "X-Session-Set", dirDestroy: "X-Session-Destroy", dirRenew: "X-Session-Renew", dirMaxAge: "X-Session-Max-Age"}
	tests := []struct {
		name    string
		headers map[string][]string
		want    session.Change
		wantErr string
	}{
		{"none", nil, session.Change{}, ""},
		{"two sets in order", map[string][]string{"X-Session-Set": {`{"a":1}`, `{"a":2}`}},
			session.Change{Set: [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}}, ""},
		{"destroy true", map[string][]string{"X-Session-Destroy": {"true"}}, session.Change{Destroy: true}, ""},
		{"renew 1", map[string][]string{"X-Session-Renew": {"1"}}, session.Change{Renew: true}, ""},
		{"max-age ms", map[string][]string{"X-Session-Max-Age": {"60000"}}, session.Change{MaxAge: session.MaxAge(time.Minute)}, ""},
		{"max-age session", map[string][]string{"X-Session-Max-Age": {"session"}}, session.Change{MaxAge: session.Browser}, ""},
		{"set not JSON", map[string][]string{"X-Session-Set": {`{a:1}`}}, session.Change{}, "X-Session-Set: want a JSON object"},
		{"set an array", map[string][]string{"X-Session-Set": {`[1]`}}, session.Change{}, "X-Session-Set: want a JSON object"},
		{"destroy yes", map[string][]string{"X-Session-Destroy": {"yes"}}, session.Change{}, `X-Session-Destroy: want "true", "1", "others" or "all"`},
		{"destroy True", map[string][]string{"X-Session-Destroy": {"True"}}, session.Change{}, `X-Session-Destroy: want "true", "1", "others" or "all"`},
		{"destroy ALL", map[string][]string{"X-Session-Destroy": {"ALL"}}, session.Change{}, `X-Session-Destroy: want "true", "1", "others" or "all"`},
		{"renew TRUE", map[string][]string{"X-Session-Renew": {"TRUE"}}, session.Change{}, "X-Session-Renew"},
		{"max-age Session", map[string][]string{"X-Session-Max-Age": {"Session"}}, session.Change{}, "X-Session-Max-Age: want a positive"},
		{"destroy others without a user index", map[string][]string{"X-Session-Destroy": {"others"}}, session.Change{}, `X-Session-Destroy: "others" needs session.userKey`},
		{"destroy all without a user index", map[string][]string{"X-Session-Destroy": {"all"}}, session.Change{}, `X-Session-Destroy: "all" needs session.userKey`},
		{"set a reserved key", map[string][]string{"X-Session-Set": {`{"a":1,"_flashes":["hi"]}`}}, session.Change{}, `X-Session-Set: top-level key "_flashes": keys starting with "_" are reserved`},
		{"set an escaped reserved key", map[string][]string{"X-Session-Set": {`{"\u005fexpire":1}`}}, session.Change{}, `top-level key "_expire"`},
		{"max-age negative", map[string][]string{"X-Session-Max-Age": {"-5"}}, session.Change{}, "X-Session-Max-Age: want a positive"},
		{"max-age float", map[string][]string{"X-Session-Max-Age": {"1.5"}}, session.Change{}, "X-Session-Max-Age: want a positive"},
		{"unknown", map[string][]string{"X-Session-Sett": {"{}"}}, session.Change{}, "X-Session-Sett: unknown session directive"},
		{"echoed token is dropped, not an error", map[string][]string{"X-Session": {"a.b.c"}}, session.Change{}, ""},
		{"nested _ keys are data", map[string][]string{"X-Session-Set": {`{"a":{"_b":1}}`}}, session.Change{Set: [][]byte{[]byte(`{"a":{"_b":1}}`)}}, ""},
		{"bad one spoils good ones", map[string][]string{"X-Session-Set": {`{"a":1}`}, "X-Session-Renew": {"yes"}}, session.Change{}, "X-Session-Renew"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"text/plain"}}
			for k, v := range tc.headers {
				h[k] = v
			}
			got, err := p.parseDirectives(h)
			if tc.wantErr != "" {
				var de *DirectiveError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a DirectiveError with %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("change %s, want %s", gotJSON, wantJSON)
			}
			if len(h) != 1 {
				t.Errorf("directive headers left in the response: %v", h)
			}
		})
	}
}

func TestIsOwnHeader(t *testing.T) {
	p := &Proxy{prefix: "x-session"}
	for name, want := range map[string]bool{
		"X-Session": true, "X-Session-Set": true, "x-session-anything": true, "X_Session": true,
		"X_SESSION_SET": true, "X-Sessions": false, "X-Sessio": false, "X-Request-Id": false, "Cookie": false,
	} {
		if got := p.isOwnHeader(name); got != want {
			t.Errorf("isOwnHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestMalformedDirectiveIs502AndLeaksNothing(t *testing.T) {
	srv := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session-Set", `{"secret":"value"`)
		io.WriteString(w, "upstream body")
	}))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "secret") || strings.Contains(string(body), "upstream body") {
		t.Errorf("status %d body %q, want 502 with a generic body", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Session-Set") != "" || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("headers leaked: %v", resp.Header)
	}
}

func TestSharedCachesDoNotStoreSessionCookies(t *testing.T) {
	tests := []struct{ name, upstreamCC, want string }{
		{"none", "", `no-cache="Set-Cookie"`},
		{"public", "public, max-age=3600", "max-age=3600, private"},
		{"s-maxage", "max-age=60, s-maxage=600", "max-age=60, private"},
		{"already private", "private, max-age=60", "private, max-age=60"},
		{"no-store", "no-store", "no-store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.upstreamCC != "" {
					w.Header().Set("Cache-Control", tc.upstreamCC)
				}
				w.Header().Set("X-Session-Set", `{"a":1}`)
			}))
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Header.Get("Set-Cookie") == "" {
				t.Fatal("no session cookie")
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.want {
				t.Errorf("Cache-Control %q, want %q", got, tc.want)
			}
		})
	}
}

// Vary gets Cookie beside the upstream's own values, and the value lists
// the proxy shares between responses never pick up another response's.
func TestVaryCookie(t *testing.T) {
	srv := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("vary") {
			w.Header().Set("Vary", "Accept-Encoding")
			w.Header().Set("Cache-Control", "max-age=60")
		}
		if v := r.URL.Query().Get("app-vary"); v != "" { // the app's session library said so already
			w.Header().Set("Vary", v)
		}
		if r.URL.Query().Has("own") { // the upstream sets the session cookie itself
			w.Header().Set("Set-Cookie", "koa.sess=upstreamvalue; path=/")
			w.Header().Set("Cache-Control", "public, max-age=600")
			return
		}
		if r.URL.Query().Has("cdn") { // what a CDN obeys over Cache-Control
			w.Header().Set("CDN-Cache-Control", "max-age=600")
			w.Header().Set("Surrogate-Control", "max-age=600")
			w.Header().Set("Cloudflare-CDN-Cache-Control", "max-age=600")
		}
		w.Header().Set("X-Session-Set", `{"a":1}`)
	}))
	for _, tc := range []struct{ query, vary, cc string }{
		{"", "Cookie", `no-cache="Set-Cookie"`},
		{"?vary", "Accept-Encoding|Cookie", "max-age=60, private"},
		{"", "Cookie", `no-cache="Set-Cookie"`},
		{"?own", "Cookie", "max-age=600, private"},
		{"?cdn", "Cookie", `no-cache="Set-Cookie"`},
		{"?app-vary=Cookie", "Cookie", `no-cache="Set-Cookie"`},
		{"?app-vary=Accept-Encoding,+cookie", "Accept-Encoding, cookie", `no-cache="Set-Cookie"`},
		{"?app-vary=*", "*", `no-cache="Set-Cookie"`},
	} {
		resp, err := http.Get(srv.URL + "/" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := strings.Join(resp.Header.Values("Vary"), "|"); got != tc.vary {
			t.Errorf("GET /%s: Vary %q, want %q", tc.query, got, tc.vary)
		}
		if got := resp.Header.Get("Cache-Control"); got != tc.cc {
			t.Errorf("GET /%s: Cache-Control %q, want %q", tc.query, got, tc.cc)
		}
		for _, name := range []string{"CDN-Cache-Control", "Surrogate-Control", "Cloudflare-CDN-Cache-Control"} {
			if got := resp.Header.Get(name); got != "" {
				t.Errorf("GET /%s: %s %q reached a shared cache with a session cookie", tc.query, name, got)
			}
		}
	}
}

func TestInformationalResponsesCarryNoSessionHeaders(t *testing.T) {
	srv := newTestProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An upstream that echoes its request headers into Early Hints.
		w.Header().Set("X-Session", r.Header.Get("X-Session"))
		w.Header().Set("X-Session-Set", `{"a":1}`)
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "ok")
	}))
	var hints []http.Header
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, http.Header(h).Clone())
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(hints) != 1 || hints[0].Get("Link") == "" {
		t.Fatalf("1xx headers %v, want one Early Hints with its Link", hints)
	}
	for name := range hints[0] {
		if strings.HasPrefix(strings.ToLower(name), "x-session") {
			t.Errorf("Early Hints carried %s to the client", name)
		}
	}
}
