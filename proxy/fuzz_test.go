package proxy

import (
	"net/http"
	"testing"

	"github.com/sessionproxy/sessionproxy/session"
)

// FuzzParseDirectives checks that any directive values are either
// rejected whole or give a change whose patches are valid, and that no
// directive header is ever left in the response.
func FuzzParseDirectives(f *testing.F) {
	p := &Proxy{prefix: "x-session", dirSet: "X-Session-Set", dirDestroy: "X-Session-Destroy", dirRenew: "X-Session-Renew", dirMaxAge: "X-Session-Max-Age"}
	f.Add(`{"a":1}`, "true", "1", "60000")
	f.Add(`[1]`, "yes", "", "session")
	f.Fuzz(func(t *testing.T, set, destroy, renew, maxAge string) {
		h := http.Header{"X-Session-Set": {set}, "X-Session-Destroy": {destroy}, "X-Session-Renew": {renew}, "X-Session-Max-Age": {maxAge}}
		ch, err := p.parseDirectives(h)
		if len(h) != 0 {
			t.Fatalf("headers left: %v", h)
		}
		if err != nil {
			if !ch.IsZero() {
				t.Fatalf("an error with a change: %+v", ch)
			}
			return
		}
		for _, patch := range ch.Set {
			if _, err := session.MergePatch([]byte(`{}`), patch); err != nil {
				t.Fatalf("accepted patch %q does not apply: %v", patch, err)
			}
		}
	})
}
