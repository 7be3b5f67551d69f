package proxy

// This file holds the headers that say where a request came from: the
// forwarding headers, believed only from trusted proxies, and what the
// proxy never passes on: the h2c upgrade, CONNECT and TRACE.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// TrustedProxies are the peers whose forwarding headers the proxy
// believes: load balancers and TLS terminators in front of it.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8") and single addresses
// ("192.0.2.1", taken as /32 or /128).
func ParseTrustedProxies(cidrs []string) (TrustedProxies, error) {
	var tp TrustedProxies
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(c); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or an IP address", c)
		}
		tp = append(tp, p.Masked())
	}
	return tp, nil
}

// Contains reports whether remoteAddr (an http.Request's RemoteAddr,
// "ip:port") is one of the trusted proxies.
func (tp TrustedProxies) Contains(remoteAddr string) bool {
	if len(tp) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IsHTTPS reports whether the client reached the deployment over HTTPS:
// r came over TLS, or from a trusted proxy whose X-Forwarded-Proto (its
// first hop, when it lists several) is https. It is what session's
// SecureRequest option wants, for session.secure: auto.
func (tp TrustedProxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, ok := r.Header["X-Forwarded-Proto"]
	if !ok || !tp.Contains(r.RemoteAddr) {
		return false
	}
	first, _, _ := strings.Cut(strings.Join(proto, ","), ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

// clientIPHeaders name the client's address in some deployments. From a
// peer that is not a trusted proxy they are removed, and X-Real-IP is
// set to the peer's address, so that an upstream that believes one of
// them believes the proxy.
var clientIPHeaders = []string{"X-Real-Ip", "True-Client-Ip", "X-Client-Ip"}

// forwardingHeader reports whether a (canonical) header name is one that
// some frameworks believe about the client's scheme, port or path beyond
// X-Forwarded-Proto and -Host (Rack's X-Forwarded-Ssl and -Scheme, IIS
// and Symfony's X-Original-Url), or any forwarding header spelled with
// underscores (X-Forwarded_Proto), which CGI-style servers (WSGI, Rack,
// PHP) read as the one with dashes. From a peer that is not a trusted
// proxy they are removed, as the client-address headers are: the proxy
// sets none of them, so an upstream must not believe a client's.
func forwardingHeader(name string) bool {
	switch name {
	case "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
		"Front-End-Https", "X-Url-Scheme", "X-Original-Url", "X-Rewrite-Url":
		return true
	}
	if strings.IndexByte(name, '_') < 0 {
		return false
	}
	for _, f := range underscoredForwarding {
		if sameCGIName(name, f) {
			return true
		}
	}
	return false
}

// underscoredForwarding are the forwarding headers whose underscore
// spellings are removed.
var underscoredForwarding = [...]string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip", "True-Client-Ip", "X-Client-Ip",
	"X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Forwarded-Prefix",
	"Front-End-Https", "X-Url-Scheme", "X-Original-Url", "X-Rewrite-Url",
}

// sameCGIName reports whether two header names are the same CGI variable:
// equal but for case, with '_' and '-' alike.
func sameCGIName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if x != y && x|0x20 != y|0x20 {
			return false
		}
	}
	return true
}

// setForwarded sets the forwarding headers of the upstream request.
// ReverseProxy has removed X-Forwarded-* and Forwarded from pr.Out. From a
// trusted proxy, its X-Forwarded-For is kept (the peer appended), and its
// X-Forwarded-Proto, -Host and the client-address headers pass; from any
// other peer, all of them are the proxy's own view of the connection. It
// reports whether the peer is a trusted proxy.
func (p *Proxy) setForwarded(pr *httputil.ProxyRequest) (trusted bool) {
	in := pr.In.Header
	trusted = p.opts.TrustedProxies.Contains(pr.In.RemoteAddr)
	if trusted {
		pr.Out.Header["X-Forwarded-For"] = in["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if trusted {
		for _, name := range [...]string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
			if v, ok := in[name]; ok {
				pr.Out.Header[name] = v
			}
		}
	} else {
		for _, name := range clientIPHeaders {
			delete(pr.Out.Header, name)
		}
	}
	if _, ok := pr.Out.Header["X-Real-Ip"]; !ok {
		if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
			pr.Out.Header["X-Real-Ip"] = []string{ip}
		}
	}
	return trusted
}

// stripH2C removes an h2c upgrade (RFC 7540's "Upgrade: h2c", gone from
// RFC 9113) from the upstream request: an upstream that accepted it would
// speak HTTP/2 with the client through a tunnel the proxy no longer reads,
// past its header stripping. The request is sent as plain HTTP/1.1;
// another upgrade asked for beside h2c (WebSocket) is kept.
func stripH2C(h http.Header) {
	delete(h, "Http2-Settings")
	up, ok := h["Upgrade"]
	if !ok {
		return
	}
	var kept []string
	for _, line := range up {
		for tok := range strings.SplitSeq(line, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !strings.EqualFold(tok, "h2c") {
				kept = append(kept, tok)
			}
		}
	}
	if len(kept) > 0 {
		h["Upgrade"] = []string{strings.Join(kept, ", ")}
		return
	}
	delete(h, "Upgrade")
	delete(h, "Connection")
}

// refusedMethod reports whether the proxy answers a request with this
// method itself (405) instead of passing it on, as nginx does: CONNECT
// would turn the connection to the upstream into a tunnel the proxy no
// longer reads, and an upstream that answers TRACE (Apache does by
// default), or TRACK (IIS's TRACE), echoes the request it got, the
// session token in it, to the client. Methods are case-sensitive, but
// some servers take "trace" for TRACE, so case is ignored here.
func refusedMethod(m string) bool {
	return strings.EqualFold(m, http.MethodConnect) || strings.EqualFold(m, http.MethodTrace) || strings.EqualFold(m, "TRACK")
}

// refuseMethod answers a refused method with 405, before any session is
// loaded. After an HTTP/1 CONNECT the connection is closed: a client may
// already have sent what it meant for the tunnel, which is no HTTP
// request. (In HTTP/2 that stays in the refused stream, and closing would
// end the connection's other streams too.)
func refuseMethod(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Method, http.MethodConnect) && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	answer(w, http.StatusMethodNotAllowed, "method not allowed: the proxy does not pass on "+r.Method+" requests")
}
