package test

import (
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
	Name    string      `json:"name"`
	Headers [][2]string `json:"headers"`
	Repeat  int         `json:"repeat"`
	Pad     int         `json:"pad"`
	Want    any         `json:"want"`
}

// header returns the response headers the case's upstream sends, with
// their names exactly as written (not canonicalized), in order.
func (c directiveCase) header() http.Header {
	h := http.Header{}
	pad := strings.Repeat("x", c.Pad)
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
// held to the same table, refuse exactly what the proxy refuses.
func TestLibraryDirectiveTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../sdk/testdata/directives.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []directiveCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/case/"))
		if err != nil || i < 0 || i >= len(table.Cases) {
			http.NotFound(w, r)
			return
		}
		for name, values := range table.Cases[i].header() {
			w.Header()[name] = values
		}
	}))
	t.Cleanup(up.Close)
	// With session.userKey, as Destroy "others" and "all" need.
	p := startProxy(t, baseConfig(up.URL).set("store.type", "memory").set("session.userKey", "user.id").set("log.access", false))
	for i, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			want := http.StatusBadGateway
			if tc.Want != nil {
				want = http.StatusOK
			}
			resp, body := get(t, newClient(t), p.URL+"/case/"+strconv.Itoa(i))
			if resp.StatusCode != want {
				t.Errorf("%v: status %d %q, want %d", tc.Headers, resp.StatusCode, body, want)
			}
			for name := range resp.Header {
				if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-session-") {
					t.Errorf("the proxy passed %s to the client", name)
				}
			}
		})
	}
}
