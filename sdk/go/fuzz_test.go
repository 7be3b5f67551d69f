package sessionproxy

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzVerify: any input is verified or refused with one of the reasons,
// never a panic.
func FuzzVerify(f *testing.F) {
	var v struct {
		Secret string `json:"secret"`
		Tokens []struct {
			Token string `json:"token"`
		} `json:"tokens"`
	}
	b, err := os.ReadFile("../testdata/vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	for _, tok := range v.Tokens {
		f.Add(tok.Token)
	}
	m, err := New(Options{Secret: v.Secret})
	if err != nil {
		f.Fatal(err)
	}
	reasons := []error{ErrMalformed, ErrAlg, ErrSignature, ErrExpired, ErrIssuer, ErrAudience, ErrKID}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := m.Verify(t.Context(), token)
		if err == nil {
			if c.Session == nil {
				t.Fatal("verified without a session")
			}
			return
		}
		for _, r := range reasons {
			if errors.Is(err, r) {
				return
			}
		}
		t.Fatalf("error %v is none of the reasons", err)
	})
}

// FuzzDiff: the patch diff makes, applied to before as RFC 7396 says,
// gives after.
func FuzzDiff(f *testing.F) {
	f.Add(`{"a":1,"b":{"c":2}}`, `{"b":{"d":[1]},"e":"x"}`)
	f.Add(`{"prefs":{"a":1}}`, `{"prefs":{}}`)
	f.Add(`{}`, `{"n":1.0,"m":null}`)
	f.Fuzz(func(t *testing.T, b, a string) {
		var before, after map[string]any
		if decodeStrict([]byte(b), &before) != nil || decodeStrict([]byte(a), &after) != nil || before == nil || after == nil {
			return
		}
		dropNulls(before)
		after, err := normalize(after)
		if err != nil {
			t.Fatal(err)
		}
		patch := diff(before, after)
		// The patch goes over the wire as JSON.
		var sent map[string]any
		if err := decodeStrict([]byte(encodeASCII(patch)), &sent); err != nil {
			t.Fatal(err)
		}
		if got := mergePatch(before, sent); !equal(got, after) {
			t.Fatalf("before %v + patch %v = %v, want %v", before, sent, got, after)
		}
	})
}

// mergePatch is RFC 7396's MergePatch, as the proxy applies it.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	out := map[string]any{}
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = mergePatch(out[k], v)
		}
	}
	return out
}
