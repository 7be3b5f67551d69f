package session

import (
	"net/http"
	"strings"
	"time"
)

// cookieFormat writes the Set-Cookie line http.Cookie.String writes, from
// attribute strings made once: String builds and checks them all again on
// every response, which is most of its cost. Cookies whose attributes are
// not the template's, or whose value String would quote or clean, go to
// String.
type cookieFormat struct {
	tmpl   http.Cookie // the attributes; Value, Expires and MaxAge zero
	name   string      // "name="; empty when the fast path is off
	mid    string      // "; Path=/; Domain=example.com": before Expires
	suffix string      // "; HttpOnly; Secure; SameSite=Lax": after it
}

func newCookieFormat(c http.Cookie) cookieFormat {
	c.Value, c.Expires, c.RawExpires, c.MaxAge, c.Raw, c.Unparsed = "", time.Time{}, "", 0, "", nil
	f := cookieFormat{tmpl: c}
	pre := (&http.Cookie{Name: c.Name, Path: c.Path, Domain: c.Domain}).String()
	post := (&http.Cookie{Name: c.Name, HttpOnly: c.HttpOnly, Secure: c.Secure, SameSite: c.SameSite, Partitioned: c.Partitioned}).String()
	if pre == "" || c.Quoted { // an invalid name (String writes ""), or quoted values
		return f
	}
	f.name = c.Name + "="
	f.mid, f.suffix = pre[len(f.name):], post[len(f.name):]
	return f
}

// line returns ck.String().
func (f *cookieFormat) line(ck *http.Cookie) string {
	if !f.fits(ck) || !plainCookieValue(ck.Value) {
		return ck.String()
	}
	return f.plainLine(ck)
}

// fits reports whether ck has the template's attributes, so that its line
// is made of the strings made once.
func (f *cookieFormat) fits(ck *http.Cookie) bool {
	t := &f.tmpl
	return f.name != "" && ck.MaxAge == 0 && ck.Name == t.Name && ck.Path == t.Path && ck.Domain == t.Domain &&
		ck.HttpOnly == t.HttpOnly && ck.Secure == t.Secure && ck.SameSite == t.SameSite &&
		ck.Partitioned == t.Partitioned && ck.Quoted == t.Quoted
}

// plainLine returns ck.String() for a cookie that fits and whose value is
// plain (plainCookieValue).
func (f *cookieFormat) plainLine(ck *http.Cookie) string {
	var b strings.Builder
	f.grow(&b, len(ck.Value))
	b.WriteString(f.name)
	b.WriteString(ck.Value)
	f.finish(&b, ck)
	return b.String()
}

// plainLineBytes is plainLine for the value v instead of ck.Value.
func (f *cookieFormat) plainLineBytes(ck *http.Cookie, v []byte) string {
	var b strings.Builder
	f.grow(&b, len(v))
	b.WriteString(f.name)
	b.Write(v)
	f.finish(&b, ck)
	return b.String()
}

func (f *cookieFormat) grow(b *strings.Builder, value int) {
	b.Grow(len(f.name) + value + len(f.mid) + len("; Expires=") + len(http.TimeFormat) + len(f.suffix))
}

// finish writes what follows the value: ck's expiry among the template's
// attributes.
func (f *cookieFormat) finish(b *strings.Builder, ck *http.Cookie) {
	b.WriteString(f.mid)
	if ck.Expires.Year() >= 1601 { // as String: RFC 6265 5.1.1.5; the zero time has none
		var buf [len(http.TimeFormat)]byte
		b.WriteString("; Expires=")
		b.Write(appendHTTPDate(buf[:0], ck.Expires))
	}
	b.WriteString(f.suffix)
}

// plainCookieValue reports whether String writes v as it is: base64's
// characters (both alphabets) and a few more that need neither quotes nor
// cleaning. The loop has no branch on the bytes: base64 is random enough
// that a branch per character class costs more than the test itself.
func plainCookieValue(v string) bool {
	set := [2]uint64{plainLow, plainHigh}
	var or byte
	var bad uint64
	for i := 0; i < len(v); i++ {
		c := v[i]
		or |= c
		bad |= ^(set[c>>6&1] >> (c & 63)) & 1
	}
	return or < 0x80 && bad == 0
}

// The bytes plainCookieValue allows, as bit sets: bytes 0-63 and 64-127.
const (
	plainLow  = 0x3ff<<'0' | 1<<'-' | 1<<'=' | 1<<'+' | 1<<'/' | 1<<'.' | 1<<'!' | 1<<'*'
	plainHigh = 0x3ffffff<<('A'-64) | 0x3ffffff<<('a'-64) | 1<<('_'-64) | 1<<('~'-64)
)

// appendHTTPDate appends t as t.UTC().AppendFormat(b, http.TimeFormat)
// does, without interpreting the layout each time.
func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	hour, min, sec := t.Clock()
	const days, months = "SunMonTueWedThuFriSat", "JanFebMarAprMayJunJulAugSepOctNovDec"
	wd := int(t.Weekday()) * 3
	m := (int(month) - 1) * 3
	return append(b, days[wd], days[wd+1], days[wd+2], ',', ' ',
		byte('0'+day/10), byte('0'+day%10), ' ',
		months[m], months[m+1], months[m+2], ' ',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), ' ',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), ' ', 'G', 'M', 'T')
}
