package proxy

import (
	"net/http"
	"strings"
)

// Trailers are headers sent after the body. The proxy's own names never
// reach the client in them, and a directive sent as one is refused: it
// arrives after the response headers, and with them the session cookie,
// have gone out, too late to apply.

// dropDeclaredTrailers removes the proxy's names from the trailers an
// upstream response declares (its Trailer header), so that ReverseProxy
// does not announce them to the client.
func (p *Proxy) dropDeclaredTrailers(resp *http.Response) {
	for name := range resp.Trailer {
		if p.isOwnHeader(name) {
			delete(resp.Trailer, name)
		}
	}
}

// scrubTrailers removes the proxy's names from the trailers ReverseProxy
// left in the client's header map h once the body was copied (declared
// ones under their name, others under http.TrailerPrefix), and logs a
// directive among them as refused.
func (p *Proxy) scrubTrailers(h http.Header, st *state) {
	var refused []string
	for k := range h {
		name := strings.TrimPrefix(k, http.TrailerPrefix)
		if !p.isOwnHeader(name) {
			continue
		}
		delete(h, k)
		if name = http.CanonicalHeaderKey(name); name != p.tokenHeader {
			refused = append(refused, name)
			p.opts.Observer.DirectiveError(p.directive(name))
		}
	}
	if len(refused) > 0 {
		p.log.Warn("the upstream sent a session directive as a trailer; refused: a directive must be a response header",
			"method", st.in.Method, "path", truncatePath(st.in.URL.Path), "upstream", st.route.Upstream.Host, "trailers", refused)
	}
}
