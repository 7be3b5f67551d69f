package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzOpenerLikeSecureCookie holds the opener to securecookie's Decode:
// for any value, under the right key or another, the opener accepts
// exactly what securecookie accepts, with the same payload.
func FuzzOpenerLikeSecureCookie(f *testing.F) {
	hashKey, blockKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	sc := newSecureCookie(hashKey, blockKey)
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
	o, err := newOpener(hashKey, blockKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		var want []byte
		wantErr := sc.Decode(name, value, &want)
		got, ok := o.open(name, value)
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
func TestOpenerTimestamps(t *testing.T) {
	hashKey, blockKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	sc := newSecureCookie(hashKey, blockKey)
	o, err := newOpener(hashKey, blockKey)
	if err != nil {
		t.Fatal(err)
	}
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
			got, ok := o.open("koa.sess", value)
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
