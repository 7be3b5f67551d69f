package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// The limits of one response's directives: past either, the response is
// malformed (502).
const (
	MaxDirectives     = 100     // header values
	MaxDirectiveBytes = 1 << 20 // their total length
)

// DirectiveError is an upstream's malformed session directive. When a
// response has one, no directive of that response is applied.
type DirectiveError struct {
	Header string // the header's name
	Reason string // what is wrong with its value
}

// Error names the header and the problem, but not the value, which may
// hold session data.
func (e *DirectiveError) Error() string {
	return fmt.Sprintf("upstream directive %s: %s", e.Header, e.Reason)
}

// parseDirectives removes every header of the proxy's from h and returns
// the session change they ask for, or a *DirectiveError for the first
// malformed one.
func (p *Proxy) parseDirectives(h http.Header) (session.Change, error) {
	var ch session.Change
	var first error
	fail := func(name, reason string) {
		if first == nil {
			first = &DirectiveError{Header: name, Reason: reason}
		}
	}
	// The limits are checked as the headers are read, so that the work
	// done before a response is refused is bounded by them too.
	count, size, over := 0, 0, false
	for name, values := range h {
		if !p.isOwnHeader(name) {
			continue
		}
		delete(h, name)
		if over {
			continue // only removed
		}
		for _, v := range values {
			size += len(v)
		}
		switch count += len(values); {
		case count > MaxDirectives:
			over = true
			fail(name, fmt.Sprintf("more than %d session headers in one response", MaxDirectives))
			continue
		case size > MaxDirectiveBytes:
			over = true
			fail(name, fmt.Sprintf("the session headers of one response are longer than %d bytes", MaxDirectiveBytes))
			continue
		}
		switch name {
		case p.tokenHeader:
			// The token itself, echoed back by an upstream that reflects
			// its request headers: not a directive, and never for the
			// client's eyes.
		case p.dirSet:
			for _, v := range values {
				b := []byte(v)
				if err := session.ValidPatch(b); err != nil {
					fail(name, "want a JSON object: "+err.Error())
					continue
				}
				if k, ok := session.ReservedKey(b); ok {
					fail(name, fmt.Sprintf("top-level key %q: keys starting with \"_\" are reserved for the proxy's bookkeeping", k))
					continue
				}
				ch.Set = append(ch.Set, b)
			}
		case p.dirDestroy:
			for _, v := range values {
				switch scope := destroyScope(v); {
				case scope == "":
					fail(name, `want "true", "1", "others" or "all"`)
				case scope != "true" && !p.opts.Sessions.HasUserIndex():
					fail(name, fmt.Sprintf("%q needs session.userKey (a server-side store indexing sessions by user)", scope))
				case scope == "others":
					ch.DestroyOthers = true
				case scope == "all":
					ch.Destroy, ch.DestroyOthers = true, true
				default:
					ch.Destroy = true
				}
			}
		case p.dirRenew:
			for _, v := range values {
				if !isTrue(v) {
					fail(name, `want "true" or "1"`)
				}
			}
			ch.Renew = true
		case p.dirMaxAge:
			for _, v := range values {
				m, err := parseMaxAge(v)
				if err != nil {
					fail(name, err.Error())
					continue
				}
				ch.MaxAge = m
			}
		default:
			fail(name, "unknown session directive")
		}
	}
	if first != nil {
		return session.Change{}, first
	}
	// Several headers apply in order, but Go keeps repeated header lines in
	// order only within one name, which is all that Set needs.
	return ch, nil
}

// destroyScope reads an X-Session-Destroy value: "true" (also for "1"),
// "others" or "all", or "" when it is none of them.
func destroyScope(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case isTrue(v):
		return "true"
	case v == "others":
		return "others"
	case v == "all":
		return "all"
	}
	return ""
}

// isTrue reports whether v is "true" or "1", the values SPEC §3 allows
// for Destroy and Renew: anything else, "TRUE" and "True" included, is
// malformed, so an app's mistake shows at once, in the 502 and the log,
// rather than as a value read one way here and another elsewhere.
func isTrue(v string) bool {
	v = strings.TrimSpace(v)
	return v == "1" || v == "true"
}

// parseMaxAge reads X-Session-Max-Age: milliseconds, or "session".
func parseMaxAge(v string) (session.MaxAge, error) {
	v = strings.TrimSpace(v)
	if v == "session" {
		return session.Browser, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 || ms > int64(session.LongestMaxAge/session.MaxAge(time.Millisecond)) {
		return 0, fmt.Errorf(`want a positive number of milliseconds or "session"`)
	}
	return session.MaxAge(time.Duration(ms) * time.Millisecond), nil
}
