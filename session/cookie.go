package session

import (
	"net/http"
	"net/textproto"
	"strings"
)

// maxRequestCookies is net/http's limit on the cookies of a request: with
// more, Request.Cookie finds none.
const maxRequestCookies = 3000

// requestCookie returns the value of the first valid cookie name in the
// Cookie headers of h, as Request.Cookie(name).Value does, without parsing
// every cookie into a *http.Cookie: the value is a substring of the header.
// A value that is not a valid cookie value is skipped, and surrounding
// double quotes are removed.
func requestCookie(h http.Header, name string) (string, bool) {
	return findCookie(h, name, true)
}

// firstCookie is requestCookie without checking the value: the first
// cookie name, valid or not. A reader that recognizes the value as one the
// proxy issued needs no check (see secureCodec.read).
func firstCookie(h http.Header, name string) (string, bool) {
	return findCookie(h, name, false)
}

func findCookie(h http.Header, name string, check bool) (string, bool) {
	lines := h["Cookie"]
	if tooManyCookies(lines) {
		return "", false
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v := splitCookie(part)
			if k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if !check || validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// tooManyCookies reports whether the Cookie header lines hold more than
// maxRequestCookies cookies, counted as net/http counts them (its
// semicolons, plus one a line). Lines shorter than the limit in all
// cannot hold more, and are not counted: a signed-in user's header is
// read once less.
func tooManyCookies(lines []string) bool {
	n := 0
	for _, line := range lines {
		n += len(line) + 1 // at most one cookie a byte, and one a line
	}
	if n <= maxRequestCookies {
		return false
	}
	n = 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	return n > maxRequestCookies
}

// splitCookie splits one cookie-pair of a Cookie header, "name=value",
// trimmed as net/http trims it. Reading the session cookie and telling
// which cookies are the session's both go through it, so that a cookie
// the proxy would read is also one it strips.
func splitCookie(part string) (name, value string) {
	k, v, _ := strings.Cut(textproto.TrimString(part), "=")
	return textproto.TrimString(k), v
}

// isSessionCookie reports whether a request cookie named name belongs to
// the session: the cookie itself or its koa signature, "<name>.sig".
func (m *Manager) isSessionCookie(name string) bool {
	return name == m.opts.Name || strings.TrimSuffix(name, ".sig") == m.opts.Name
}

// StripCookies removes the session's cookies (the session cookie and its
// .sig) from the Cookie headers of h, keeping every other cookie as the
// client sent it, so that an upstream never sees the session cookie
// unless a route opts in.
func (m *Manager) StripCookies(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0]
	for _, line := range lines {
		if !strings.Contains(line, m.opts.Name) {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			part = textproto.TrimString(part)
			if name, _ := splitCookie(part); part == "" || m.isSessionCookie(name) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}

// SetsCookie reports whether the Set-Cookie headers of h set the session
// cookie itself (not only its .sig): an upstream that shares the session
// with koa-session may set it, and its cookie then wins.
func (m *Manager) SetsCookie(h http.Header) bool {
	name := m.opts.Name
	for _, line := range h["Set-Cookie"] {
		line = strings.TrimLeft(line, " ")
		if len(line) > len(name) && line[len(name)] == '=' && strings.HasPrefix(line, name) {
			return true
		}
	}
	return false
}

// removeCookie deletes the Set-Cookie lines in h that start with prefix
// ("name="), as cookies 0.9's overwrite does.
func removeCookie(h http.Header, prefix string) {
	lines := h["Set-Cookie"]
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			kept = append(kept, l)
		}
	}
	switch {
	case len(kept) == 0:
		delete(h, "Set-Cookie")
	case len(kept) < len(lines):
		h["Set-Cookie"] = kept
	}
}

// validCookieValue reports whether every byte of v may be in a cookie
// value, by net/http's rules for request cookies: printable ASCII but '"',
// ';' and '\\'. It checks only a session cookie that is not the proxy's
// (see secureCodec.read), so a byte at a time will do.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
