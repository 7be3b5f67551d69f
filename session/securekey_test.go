package session

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

// newSecureCookie returns the securecookie codec that secureKey matches:
// expiry is checked inside the payload, per session, not by the value's
// timestamp, and the payload is bytes already.
func newSecureCookie(hashKey, blockKey []byte) *securecookie.SecureCookie {
	sc := securecookie.New(hashKey, blockKey)
	sc.MaxAge(0)
	sc.SetSerializer(securecookie.NopEncoder{})
	return sc
}

// testSecureKey returns a secureKey under fixed test keys, its hash key,
// and the SecureCookie of the same keys.
func testSecureKey(tb testing.TB) (hashKey []byte, sc *securecookie.SecureCookie, k *secureKey) {
	tb.Helper()
	hashKey, blockKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	k, err := newSecureKey(hashKey, blockKey)
	if err != nil {
		tb.Fatal(err)
	}
	return hashKey, newSecureCookie(hashKey, blockKey), k
}

// FuzzOpenLikeSecureCookie holds open to securecookie's Decode: for any
// value, under the right key or another, open accepts exactly what
// securecookie accepts, with the same payload.
func FuzzOpenLikeSecureCookie(f *testing.F) {
	_, sc, k := testSecureKey(f)
	for _, p := range []string{"", "x", "abc.{}", `s1.{"user":{"id":42,"name":"Ann"}}`, strings.Repeat("y", 3000)} {
		v, err := sc.Encode("koa.sess", []byte(p))
		if err == nil {
			f.Add("koa.sess", v)
			f.Add("other", v)
			f.Add("koa.sess", v[:len(v)-4])
		}
	}
	// A well-formed value with a timestamp securecookie must parse.
	f.Add("koa.sess", base64.URLEncoding.EncodeToString([]byte("+12|AAAA|mac|more")))
	f.Add("koa.sess", "")
	f.Add("koa.sess", "not base64!")
	f.Fuzz(func(t *testing.T, name, value string) {
		var want []byte
		wantErr := sc.Decode(name, value, &want)
		got, ok := k.open(name, value)
		if ok != (wantErr == nil) {
			t.Fatalf("open(%q, %q) ok=%v; securecookie: %v", name, value, ok, wantErr)
		}
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("open(%q, %q) = %q; securecookie: %q", name, value, got, want)
		}
	})
}

// The fuzzer rarely finds a value with a valid MAC by itself, so the
// timestamps securecookie's parser decides are checked on values signed
// with the right key.
func TestOpenTimestamps(t *testing.T) {
	hashKey, sc, k := testSecureKey(t)
	v, err := sc.Encode("koa.sess", []byte("id.{}"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.SplitN(raw, []byte("|"), 3)
	for _, date := range []string{"", "0", "+1", "-1", "1a", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "12345678901234567890", " 1", "1_000"} {
		t.Run(date, func(t *testing.T) {
			value := resign(t, hashKey, "koa.sess", date, string(parts[1]))
			var want []byte
			wantErr := sc.Decode("koa.sess", value, &want)
			got, ok := k.open("koa.sess", value)
			if ok != (wantErr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("open: %q %v; securecookie: %q %v", got, ok, want, wantErr)
			}
		})
	}
}

// resign returns a securecookie value for name with the given timestamp
// and encoded value, with a valid MAC under hashKey.
func resign(t *testing.T, hashKey []byte, name, date, value string) string {
	t.Helper()
	mac := hmac.New(sha256.New, hashKey)
	mac.Write([]byte(name + "|" + date + "|" + value))
	return base64.URLEncoding.EncodeToString([]byte(date + "|" + value + "|" + string(mac.Sum(nil))))
}

// FuzzSealLikeSecureCookie holds seal to securecookie's Encode: what seal
// writes, securecookie decodes as it decodes its own value of the same
// payload, and seal refuses exactly the payloads that Encode refuses as
// too long.
func FuzzSealLikeSecureCookie(f *testing.F) {
	_, sc, k := testSecureKey(f)
	for _, p := range []string{"", "x", "abc.{}", `s1.{"user":{"id":42,"name":"Ann"}}`, strings.Repeat("y", 2900), strings.Repeat("y", 3000)} {
		f.Add("koa.sess", p)
	}
	f.Add("", "x")
	f.Add("a|b", "x|y")
	f.Fuzz(func(t *testing.T, name, payload string) {
		now := time.Now().Unix()
		got, err := k.seal(name, []byte(payload), now)
		want, wantErr := sc.Encode(name, []byte(payload))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("seal(%q, %d bytes): %v; securecookie: %v", name, len(payload), err, wantErr)
		}
		if err != nil {
			return
		}
		if !plainCookieValue(got) { // secureCodec.write relies on it
			t.Fatalf("seal(%q, %q) = %q, not a plain cookie value", name, payload, got)
		}
		if len(got) != len(want) {
			t.Fatalf("seal(%q, %d bytes) is %d bytes; securecookie's %d", name, len(payload), len(got), len(want))
		}
		// securecookie reads both the same: the payload, or (for an empty
		// one, which it cannot decrypt) an error.
		var decoded, own []byte
		err = sc.Decode(name, got, &decoded)
		ownErr := sc.Decode(name, want, &own)
		if (err == nil) != (ownErr == nil) || string(decoded) != string(own) || (err == nil && string(decoded) != payload) {
			t.Fatalf("securecookie decodes seal(%q, %q) to %q, %v; its own value to %q, %v", name, payload, decoded, err, own, ownErr)
		}
		raw, _ := base64.URLEncoding.DecodeString(got)
		if date, _, _ := strings.Cut(string(raw), "|"); date != strconv.FormatInt(now, 10) {
			t.Fatalf("seal dated %q, want %d", date, now)
		}
		if again, _ := k.seal(name, []byte(payload), now); again == got {
			t.Fatalf("seal(%q, %q) twice gave the same value: the IV is not random", name, payload)
		}
	})
}

// TestSecureCookieIsGorillas reads a session cookie the proxy's Manager
// wrote with securecookie itself, under keys derived as the spec says, so
// that another Go service holding the keys can read the session too.
func TestSecureCookieIsGorillas(t *testing.T) {
	const key = "key-0123456789abcdef0123456789abcdef"
	m, err := New(Options{Keys: []string{key}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := m.Load(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := m.Commit(context.Background(), r, s, Change{Set: [][]byte{[]byte(`{"user":"ann"}`)}}, w.Header()); err != nil {
		t.Fatal(err)
	}
	c, err := http.ParseSetCookie(w.Header().Get("Set-Cookie"))
	if err != nil {
		t.Fatal(err)
	}
	hashKey, _ := hkdf.Key(sha256.New, []byte(key), nil, "sessionproxy secure cookie: hmac-sha256", 32)
	blockKey, _ := hkdf.Key(sha256.New, []byte(key), nil, "sessionproxy secure cookie: aes-256", 32)
	var payload []byte
	if err := newSecureCookie(hashKey, blockKey).Decode(c.Name, c.Value, &payload); err != nil {
		t.Fatalf("securecookie cannot read the proxy's cookie: %v", err)
	}
	id, rec, ok := strings.Cut(string(payload), ".")
	if !ok || id == "" || !strings.Contains(rec, `"user":"ann"`) {
		t.Fatalf("securecookie reads %q, want \"<id>.<record with user>\"", payload)
	}
}

// seal refuses a payload as too long before sealing it: exactly the
// payloads securecookie's Encode refuses, at every length around its
// limit.
func TestSealLimitLikeSecureCookie(t *testing.T) {
	_, sc, k := testSecureKey(t)
	fits := 0
	for n := 2000; n <= 2500; n++ {
		payload := bytes.Repeat([]byte{'x'}, n)
		_, err := k.seal("koa.sess", payload, time.Now().Unix())
		_, wantErr := sc.Encode("koa.sess", payload)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%d bytes: seal %v; securecookie %v", n, err, wantErr)
		}
		if err == nil {
			fits = n
		}
	}
	if fits == 0 || fits == 2500 {
		t.Fatalf("the limit is not between 2000 and 2500 bytes (largest that fits: %d)", fits)
	}
}
