package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

// gorillaCodec is gorilla/securecookie set up as FormatSecure's format
// says: the secure codec must read and write exactly what it does.
func gorillaCodec(t testing.TB, key string) *securecookie.SecureCookie {
	t.Helper()
	hashKey, err := hkdf.Key(sha256.New, []byte(key), nil, hashKeyInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	blockKey, err := hkdf.Key(sha256.New, []byte(key), nil, blockKeyInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	sc := securecookie.New(hashKey, blockKey)
	sc.MaxAge(0)
	sc.SetSerializer(securecookie.NopEncoder{})
	return sc
}

func TestSecureCodecMatchesSecurecookie(t *testing.T) {
	c, err := newSecureCodec([]string{key1, key2})
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{
		"x", // an empty payload cannot be decrypted, in securecookie either
		"id.{}",
		`AAECAwQFBgcICQoLDA0ODw.{"user":{"name":"john doe"},"_expire":1700000000000,"_maxAge":86400000}`,
		strings.Repeat("|x\x00", 500),
	} {
		t.Run("ours to securecookie/"+strconv.Itoa(len(payload)), func(t *testing.T) {
			v, err := c.encode("koa.sess", []byte(payload), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := gorillaCodec(t, key1).Decode("koa.sess", v, &got); err != nil || string(got) != payload {
				t.Errorf("securecookie decodes %q, %v; want %q", got, err, payload)
			}
		})
		for _, key := range []string{key1, key2} {
			t.Run("securecookie to ours/"+strconv.Itoa(len(payload)), func(t *testing.T) {
				v, err := gorillaCodec(t, key).Encode("koa.sess", []byte(payload))
				if err != nil {
					t.Fatal(err)
				}
				got, ok := c.decode("koa.sess", v)
				if !ok || string(got) != payload {
					t.Errorf("decode = %q, %v; want %q", got, ok, payload)
				}
			})
		}
	}
}

func TestSecureCodecRejects(t *testing.T) {
	c, err := newSecureCodec([]string{key1})
	if err != nil {
		t.Fatal(err)
	}
	good, err := c.encode("koa.sess", []byte("id.{}"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newSecureCodec([]string{key2})
	foreign, _ := other.encode("koa.sess", []byte("id.{}"), time.Now())
	// A value whose MAC is right but whose date is not a number, which
	// securecookie rejects too.
	enc := base64.URLEncoding
	inner := "x1|" + enc.EncodeToString(make([]byte, 20))
	badDate := enc.EncodeToString(c.keys[0].sum([]byte(inner+"|"), []byte("koa.sess|"+inner)))

	tests := []struct{ name, cookie, value string }{
		{"another name", "other", good},
		{"another key", "koa.sess", foreign},
		{"not base64", "koa.sess", "!!!" + good},
		{"truncated", "koa.sess", good[:len(good)-8]},
		{"no separators", "koa.sess", enc.EncodeToString([]byte("abc"))},
		{"bad date", "koa.sess", badDate},
		{"too long", "koa.sess", good + strings.Repeat("A", maxSecureCookie)},
	}
	for i := range len(good) {
		b := []byte(good)
		b[i] ^= 1
		tests = append(tests, struct{ name, cookie, value string }{"flipped byte " + strconv.Itoa(i), "koa.sess", string(b)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := c.decode(tc.cookie, tc.value); ok {
				// Flipping the low bit of the base64 padding or of the
				// last character's unused bits can leave the bytes as
				// they were; securecookie accepts those too.
				var want []byte
				if err := gorillaCodec(t, key1).Decode(tc.cookie, tc.value, &want); err != nil || string(want) != string(got) {
					t.Errorf("decode accepted %q as %q (securecookie: %v)", tc.value, got, err)
				}
			}
		})
	}
	if _, err := c.encode("koa.sess", make([]byte, maxSecureCookie), time.Now()); err == nil {
		t.Error("encode of a session too large for a cookie: no error")
	}
}
