package sessionproxytest_test

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

// directiveCase is one case of ../../testdata/directives.json, the table
// the proxy is held to (test/sdk_directives_test.go).
type directiveCase struct {
	Name    string          `json:"name"`
	Before  json.RawMessage `json:"before"` // the table's when absent
	Headers [][2]string     `json:"headers"`
	Repeat  int             `json:"repeat"`
	Pad     int             `json:"pad"`
	PadWith string          `json:"pad_with"`
	Want    *struct {
		Set           []map[string]any `json:"set"`
		Destroy       bool             `json:"destroy"`
		DestroyOthers bool             `json:"destroy_others"`
		Renew         bool             `json:"renew"`
		MaxAge        json.RawMessage  `json:"max_age"` // a number, "session" or null
		New           bool             `json:"new"`     // the next token's new
		ID            string           `json:"id"`      // the next token's id: "new" or "same"
		Session       map[string]any   `json:"session"` // the data the proxy keeps, from the case's before
	} `json:"want"`
	Error *string `json:"error"` // with Want nil: the header the error names, or any
}

// header returns the case's response headers, their names as written
// (not canonicalized), as the test of the proxy sends them.
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

// TestReadDirectivesTable: ReadDirectives refuses every response of the
// shared table that the proxy answers with 502, naming the header, and
// reads the others as the proxy applies them, and Apply gives the session
// the proxy keeps from the case's before, so that a handler's unit test
// passes exactly when the proxy would apply its directives. ApplySession,
// from before (new when empty), gives that session and the next token's
// new and id.
func TestReadDirectivesTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../testdata/directives.json")
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
	if len(table.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			if tc.Before == nil {
				tc.Before = table.Before
			}
			var before map[string]any
			if err := json.Unmarshal(tc.Before, &before); err != nil {
				t.Fatal(err)
			}
			after, applyErr := sessionproxytest.Apply(before, tc.header())
			arrived := sessionproxytest.Session{ID: "s1", Data: before, New: len(before) == 0}
			next, sessionErr := sessionproxytest.ApplySession(arrived, tc.header())
			got, err := sessionproxytest.ReadDirectives(tc.header())
			if (applyErr == nil) != (err == nil) || (sessionErr == nil) != (err == nil) {
				t.Errorf("%.200v: Apply's error %v, ApplySession's %v, ReadDirectives' %v", tc.Headers, applyErr, sessionErr, err)
			}
			if tc.Want == nil {
				switch {
				case err == nil:
					t.Fatalf("%.200v: read as %+v, want an error (the proxy answers 502)", tc.Headers, got)
				case tc.Error != nil && !namesHeader(err.Error(), *tc.Error):
					t.Errorf("%.200v: error %q does not name %s", tc.Headers, err, *tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("%.200v: %v; the proxy applies it", tc.Headers, err)
			}
			want := sessionproxytest.Directives{
				Destroy:       tc.Want.Destroy,
				DestroyOthers: tc.Want.DestroyOthers,
				Renew:         tc.Want.Renew,
			}
			if len(tc.Want.Set) > 0 {
				want.Set = tc.Want.Set[0] // Directives keep the first patch
			}
			// Directives' MaxAge is a string: the milliseconds in decimal,
			// "session", or "" for null.
			if err := json.Unmarshal(tc.Want.MaxAge, &want.MaxAge); err != nil {
				want.MaxAge = string(tc.Want.MaxAge)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%.200v: read as %+v, want %+v", tc.Headers, got, want)
			}
			if !reflect.DeepEqual(after, tc.Want.Session) {
				t.Errorf("%.200v: applied as %v, want %v", tc.Headers, after, tc.Want.Session)
			}
			if !reflect.DeepEqual(next.Data, tc.Want.Session) || next.New != tc.Want.New {
				t.Errorf("%.200v: ApplySession gives %v, new %v; want %v, new %v", tc.Headers, next.Data, next.New, tc.Want.Session, tc.Want.New)
			}
			if newID := next.ID != arrived.ID; newID != (tc.Want.ID == "new") {
				t.Errorf("%.200v: ApplySession's ID %q after %q, want the %s one", tc.Headers, next.ID, arrived.ID, tc.Want.ID)
			}
			var unchanged map[string]any
			if json.Unmarshal(tc.Before, &unchanged); !reflect.DeepEqual(before, unchanged) {
				t.Errorf("%.200v: Apply changed the session it was given to %v", tc.Headers, before)
			}
		})
	}
}

// namesHeader reports whether the error message msg names the header
// name as a word of its own, not as the start of a longer name.
func namesHeader(msg, name string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], name)
		if j < 0 {
			return false
		}
		end := i + j + len(name)
		if end == len(msg) || msg[end] == ' ' || msg[end] == ':' {
			return true
		}
		i = i + j + 1
	}
}
