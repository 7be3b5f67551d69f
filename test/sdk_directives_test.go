package test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// directiveCase is one case of sdk/testdata/directives.json, the table
// the libraries' test helpers (sessionproxytest, sessionproxy/testing,
// sessionproxy.testing) read directives by.
type directiveCase struct {
	Name    string          `json:"name"`
	Before  json.RawMessage `json:"before"` // the table's when absent
	Headers [][2]string     `json:"headers"`
	Repeat  int             `json:"repeat"`
	Pad     int             `json:"pad"`
	PadWith string          `json:"pad_with"`
	Want    *struct {
		Destroy bool            `json:"destroy"`
		Renew   bool            `json:"renew"`
		New     bool            `json:"new"`
		ID      string          `json:"id"` // "new" or "same"
		Session json.RawMessage `json:"session"`
	} `json:"want"`
}

// header returns the response headers the case's upstream sends, with
// their names exactly as written (not canonicalized), in order.
func (c directiveCase) header() http.Header {
	h := http.Header{}
	padWith := c.PadWith
	if padWith == "" {
		padWith = "x"
	}
	pad := strings.Repeat(padWith, c.Pad)
	for i, kv := range c.Headers {
		n := 1
		if i == len(c.Headers)-1 && c.Repeat > 0 {
			n = c.Repeat
		}
		for range n {
			h[kv[0]] = append(h[kv[0]], strings.ReplaceAll(kv[1], "<pad>", pad))
		}
	}
	return h
}

// TestLibraryDirectiveTable: the real proxy applies every response of
// sdk/testdata/directives.json that the table says it applies (200), and
// answers the others with 502, so that the libraries' test helpers,
// held to the same table, refuse exactly what the proxy refuses. Each
// case's response comes to a session holding its before (the table's
// unless the case has its own), new when before is empty, as the proxy
// saves no empty new session. The next request's token carries the
// case's want.session and want.new, and beside the id the case's request
// came with, the one want.id says ("new" or "same"); after a 502, before
// with its id (a new one each request when before is new).
func TestLibraryDirectiveTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../sdk/testdata/directives.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Before json.RawMessage `json:"before"`
		Cases  []directiveCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	for i := range table.Cases {
		if table.Cases[i].Before == nil {
			table.Cases[i].Before = table.Before
		}
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer's body is the claims of the token the proxy sent.
		_, payload, _ := strings.Cut(r.Header.Get("X-Session"), ".")
		payload, _, _ = strings.Cut(payload, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(payload)
		if r.URL.Path == "/token" {
			w.Write(claims)
			return
		}
		what, n, _ := strings.Cut(r.URL.Path[1:], "/")
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= len(table.Cases) {
			http.NotFound(w, r)
			return
		}
		switch what {
		case "start":
			w.Header().Set("X-Session-Set", string(table.Cases[i].Before))
		case "case":
			for name, values := range table.Cases[i].header() {
				w.Header()[name] = values
			}
		default:
			http.NotFound(w, r)
			return
		}
		w.Write(claims)
	}))
	t.Cleanup(up.Close)
	// With session.userKey, as Destroy "others" and "all" need. Every
	// case's session is before's user's, so the cases run one at a time:
	// "others" and "all" end the sessions of the cases before, not of
	// one under way.
	p := startProxy(t, baseConfig(up.URL).set("store.type", "memory").set("session.userKey", "user.id").set("log.access", false))
	for i, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := newClient(t)
			if resp, body := get(t, c, p.URL+"/start/"+strconv.Itoa(i)); resp.StatusCode != http.StatusOK {
				t.Fatalf("/start: status %d %q", resp.StatusCode, body)
			}
			beforeNew := sameJSON(t, string(tc.Before), "{}")
			before := tokenClaims(t, c, p.URL+"/token")
			if !sameJSON(t, string(before.Sess), string(tc.Before)) || before.New != beforeNew {
				t.Fatalf("before the case the token carries %s, new %v; want %s, new %v", before.Sess, before.New, tc.Before, beforeNew)
			}
			want, wantSession, wantNew, newID := http.StatusBadGateway, tc.Before, beforeNew, beforeNew
			if tc.Want != nil {
				want, wantSession, wantNew = http.StatusOK, tc.Want.Session, tc.Want.New
				switch tc.Want.ID {
				case "new":
					newID = true
				case "same":
					newID = false
				default:
					t.Fatalf("want.id %q: want \"new\" or \"same\"", tc.Want.ID)
				}
			}
			resp, body := get(t, c, p.URL+"/case/"+strconv.Itoa(i))
			if resp.StatusCode != want {
				t.Errorf("%.200v: status %d %q, want %d", tc.Headers, resp.StatusCode, body, want)
			}
			if resp.StatusCode == http.StatusOK {
				// The session the case's response came to: an unsaved new
				// one has a new id each request.
				if err := json.Unmarshal([]byte(body), &before); err != nil {
					t.Fatalf("the case's claims %.200q: %v", body, err)
				}
			}
			for name := range resp.Header {
				if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-session-") {
					t.Errorf("the proxy passed %s to the client", name)
				}
			}
			after := tokenClaims(t, c, p.URL+"/token")
			if !sameJSON(t, string(after.Sess), string(wantSession)) {
				t.Errorf("%.200v: the next token carries %s, want %s", tc.Headers, after.Sess, wantSession)
			}
			if after.New != wantNew {
				t.Errorf("%.200v: the next token says new: %v, want %v", tc.Headers, after.New, wantNew)
			}
			if gotNewID := after.SID != before.SID; gotNewID != newID {
				t.Errorf("%.200v: sid %q, then %q; want a new one: %v", tc.Headers, before.SID, after.SID, newID)
			}
		})
	}
}

// tokenClaims GETs url, whose upstream answers with the claims of the
// token the proxy sent it, and returns them.
func tokenClaims(t *testing.T, c *http.Client, url string) (claims struct {
	SID  string          `json:"sid"`
	Sess json.RawMessage `json:"sess"`
	New  bool            `json:"new"`
}) {
	t.Helper()
	resp, body := get(t, c, url)
	if err := json.Unmarshal([]byte(body), &claims); resp.StatusCode != http.StatusOK || err != nil || claims.SID == "" {
		t.Fatalf("%s: status %d, claims %.200q: %v", url, resp.StatusCode, body, err)
	}
	return claims
}
