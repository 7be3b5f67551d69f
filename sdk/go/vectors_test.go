package sessionproxy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
	"github.com/sessionproxy/sessionproxy/sdk/go/sessionproxytest"
)

// vectors is sdk/testdata/vectors.json, written by the proxy's own code.
type vectors struct {
	Secret string          `json:"secret"`
	JWKS   json.RawMessage `json:"jwks"`
	Tokens []struct {
		Name     string         `json:"name"`
		Token    string         `json:"token"`
		Secret   string         `json:"secret"`
		Audience string         `json:"audience"`
		Claims   map[string]any `json:"claims"`
		Error    string         `json:"error"`
	} `json:"tokens"`
	Patches []struct {
		Name   string          `json:"name"`
		Before map[string]any  `json:"before"`
		After  map[string]any  `json:"after"`
		Patch  json.RawMessage `json:"patch"`
	} `json:"patches"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("../testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) == 0 || len(v.Patches) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

// reasons maps each reason word of the vectors to its sentinel.
var reasons = map[string]error{
	"malformed": sessionproxy.ErrMalformed,
	"alg":       sessionproxy.ErrAlg,
	"signature": sessionproxy.ErrSignature,
	"expired":   sessionproxy.ErrExpired,
	"issuer":    sessionproxy.ErrIssuer,
	"audience":  sessionproxy.ErrAudience,
	"kid":       sessionproxy.ErrKID,
}

func TestTokenVectors(t *testing.T) {
	v := loadVectors(t)
	// A vector without a secret is verified with the proxy's published
	// keys, served as its admin listener serves them.
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(v.JWKS)
	}))
	defer jwks.Close()
	for _, tc := range v.Tokens {
		t.Run(tc.Name, func(t *testing.T) {
			opts := sessionproxy.Options{Secret: tc.Secret, Audience: tc.Audience}
			if tc.Secret == "" {
				opts.JWKSURL = jwks.URL + "/.well-known/jwks.json"
			}
			claims, err := sessionproxy.Verify(t.Context(), tc.Token, opts)
			if tc.Error != "" {
				want, ok := reasons[tc.Error]
				if !ok {
					t.Fatalf("unknown reason %q", tc.Error)
				}
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
				if !strings.Contains(err.Error(), tc.Error) {
					t.Errorf("error %q does not name the reason %q", err, tc.Error)
				}
				for word, other := range reasons {
					if word != tc.Error && errors.Is(err, other) {
						t.Errorf("error %q is also %s", err, word)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(claims.Raw, tc.Claims) {
				t.Errorf("claims %v, want %v", claims.Raw, tc.Claims)
			}
			if !reflect.DeepEqual(claims.Session, tc.Claims["sess"]) {
				t.Errorf("Session %v, want %v", claims.Session, tc.Claims["sess"])
			}
			if sid, _ := tc.Claims["sid"].(string); claims.SID != sid {
				t.Errorf("SID %q, want %q", claims.SID, sid)
			}
			if claims.New != tc.Claims["new"] || claims.Issuer != sessionproxy.Issuer {
				t.Errorf("New %v, Issuer %q; want %v, %q", claims.New, claims.Issuer, tc.Claims["new"], sessionproxy.Issuer)
			}
		})
	}
}

// TestPatchVectors runs every patch vector through the middleware: the
// session arrives as before, the handler makes it after with Set and
// Delete, and the response must carry exactly the vector's patch.
func TestPatchVectors(t *testing.T) {
	v := loadVectors(t)
	m, err := sessionproxy.New(sessionproxy.Options{Secret: v.Secret})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range v.Patches {
		t.Run(tc.Name, func(t *testing.T) {
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessionproxy.FromContext(r.Context())
				for _, k := range s.Keys() {
					if _, ok := tc.After[k]; !ok {
						if err := s.Delete(k); err != nil {
							t.Error(err)
						}
					}
				}
				for k, val := range tc.After {
					if err := s.Set(k, val); err != nil {
						t.Error(err)
					}
				}
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, sessionproxytest.NewRequest(v.Secret, "GET", "/", sessionproxytest.Session{Data: tc.Before}))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			got, sent := rec.Header()["X-Session-Set"]
			if string(tc.Patch) == "null" {
				if sent {
					t.Errorf("X-Session-Set %q, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("X-Session-Set %q, want one %s", got, tc.Patch)
			}
			if !sameJSON(t, got[0], string(tc.Patch)) {
				t.Errorf("X-Session-Set %s, want %s", got[0], tc.Patch)
			}
			if strings.ContainsFunc(got[0], func(r rune) bool { return r < ' ' || r >= 0x7f }) {
				t.Errorf("X-Session-Set %q is not printable ASCII", got[0])
			}
		})
	}
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
