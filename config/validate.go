package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// Validate reports every problem in c at once, each as "path: problem".
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(path, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			var ae *net.AddrError
			if errors.As(err, &ae) {
				err = errors.New(ae.Err) // without the address again, unquoted: it may be a secret put here
			}
			bad(path, "%q is not host:port (%v)", addr, err)
		}
	}

	checkAddr("listen", c.Listen)
	if c.Upstream == "" {
		bad("upstream", "is required")
	} else if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("upstream", "%q must be an http:// or https:// URL", redactURL(c.Upstream))
	}
	positive := func(path string, d Duration) {
		if d <= 0 {
			bad(path, "must be > 0")
		}
	}
	notNegative := func(path string, d Duration) {
		if d < 0 {
			bad(path, "must be >= 0 (0 turns it off)")
		}
	}
	positive("upstreamTimeouts.dial", c.UpstreamTimeouts.Dial)
	positive("upstreamTimeouts.responseHeader", c.UpstreamTimeouts.ResponseHeader)
	positive("upstreamTimeouts.send", c.UpstreamTimeouts.Send)
	positive("server.readHeaderTimeout", c.Server.ReadHeaderTimeout)
	notNegative("server.readTimeout", c.Server.ReadTimeout)
	notNegative("server.writeTimeout", c.Server.WriteTimeout)
	notNegative("server.idleTimeout", c.Server.IdleTimeout)
	positive("server.shutdownTimeout", c.Server.ShutdownTimeout)
	if c.Server.MaxHeaderBytes < 4096 {
		bad("server.maxHeaderBytes", "must be at least 4096 (it is %d)", c.Server.MaxHeaderBytes)
	}
	errs = append(errs, c.validateEdges()...)

	if len(c.Keys) == 0 {
		bad("keys", "at least one key is required")
	}
	for i, k := range c.Keys {
		switch {
		case k == "":
			bad(fmt.Sprintf("keys[%d]", i), "is empty")
		case c.Session.Format == "secure" && len(k) < 32:
			bad(fmt.Sprintf("keys[%d]", i), "must be at least 32 characters for the secure format (it has %d)", len(k))
		}
	}

	s := c.Session
	if s.Key == "" || strings.ContainsAny(s.Key, "=;, \t\"\\") {
		bad("session.key", "%q is not a valid cookie name", s.Key)
	}
	if !s.MaxAge.Session && s.MaxAge.Duration <= 0 {
		bad("session.maxAge", `must be > 0 or "session"`)
	} else if s.MaxAge.Duration > time.Duration(session.LongestMaxAge) {
		bad("session.maxAge", "must be at most 100 years")
	}
	switch s.Format {
	case "secure", "koa":
	default:
		bad("session.format", "%q must be secure or koa", s.Format)
	}
	switch {
	case s.KeygripAlgorithm != "sha1" && s.KeygripAlgorithm != "sha256" && s.KeygripAlgorithm != "sha384" && s.KeygripAlgorithm != "sha512":
		bad("session.keygripAlgorithm", "%q must be sha1, sha256, sha384 or sha512", s.KeygripAlgorithm)
	case s.KeygripAlgorithm != "sha1" && s.Format != "koa":
		bad("session.keygripAlgorithm", "is for session.format koa: the secure format has its own")
	}
	switch strings.ToLower(s.SameSite) {
	case "", "lax", "strict", "none":
	default:
		bad("session.sameSite", "%q must be lax, strict, none or empty", s.SameSite)
	}
	if strings.EqualFold(s.SameSite, "none") && s.Secure == SecureOff {
		bad("session.sameSite", `"none" needs session.secure true or auto (browsers drop it otherwise)`)
	}
	if strings.EqualFold(s.SameSite, "none") && s.Secure == SecureAuto && !c.Server.TLS.Enabled() && len(c.Server.TrustedProxies) == 0 {
		bad("session.sameSite", `"none" with session.secure auto needs server.tls or server.trustedProxies: `+
			"without either no request is known to be HTTPS, the cookie is never Secure, and browsers drop it")
	}
	if !strings.HasPrefix(s.Path, "/") {
		bad("session.path", "%q must start with /", s.Path)
	}
	if !s.Signed && s.Format == "secure" {
		bad("session.signed", "false is only allowed with format koa; secure cookies are always authenticated")
	}
	notNegative("session.idleTimeout", s.IdleTimeout)
	notNegative("session.absoluteTimeout", s.AbsoluteTimeout)
	if s.MaxBytes < 0 {
		bad("session.maxBytes", "must be >= 0 (0 turns it off)")
	}
	if s.UserKey != "" {
		if msg := checkUserKey(s.UserKey); msg != "" {
			bad("session.userKey", "%q %s", s.UserKey, msg)
		}
		if c.Store.Type == "cookie" {
			bad("session.userKey", "needs store.type memory or redis: the cookie store cannot end a session it does not hold")
		}
		if c.Admin.Listen != "" && c.Admin.Token == "" && !isLoopback(c.Admin.Listen) {
			bad("admin.token", "is required when admin.listen %q is not a loopback address and session.userKey is set: the /sessions API can log users out", c.Admin.Listen)
		}
	}
	if !s.Signed && c.Store.Type != "cookie" {
		// The cookie's value is the store key: unsigned, a client could
		// name any key in the store, and read or delete it.
		bad("session.signed", "false is not allowed with store.type %s: an unsigned id would let a client choose the store key", c.Store.Type)
	}

	seen := map[string]bool{}
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		switch {
		case !strings.HasPrefix(r.Path, "/"):
			bad(path+".path", "%q must start with /", r.Path)
		case seen[r.Path]:
			bad(path+".path", "%q is already the path of another route", r.Path)
		}
		seen[r.Path] = true
		if r.Upstream != "" {
			if u, err := url.Parse(r.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(path+".upstream", "%q must be an http:// or https:// URL", redactURL(r.Upstream))
			}
		}
		if r.ForwardCookie && s.Format != "koa" {
			bad(path+".forwardCookie", "needs session.format koa: only a koa-format cookie can be read by the upstream's koa-session")
		}
	}

	switch c.Store.Type {
	case "cookie":
	case "memory":
		if c.Store.Memory.MaxEntries <= 0 {
			bad("store.memory.maxEntries", "must be > 0")
		}
		if m := c.Store.Memory.MaxBytes; m < 0 || m > 0 && m < MinMemoryBytes {
			bad("store.memory.maxBytes", "must be 0 (off) or at least %d (1 MiB): a bound smaller than a few thousand sessions evicts a user at every login (it is %d)", MinMemoryBytes, m)
		}
	case "redis":
		r := c.Store.Redis
		if len(r.Addrs) == 0 {
			bad("store.redis.addrs", "at least one host:port is required")
		}
		for i, a := range r.Addrs {
			checkAddr(fmt.Sprintf("store.redis.addrs[%d]", i), a)
		}
		if r.DB < 0 {
			bad("store.redis.db", "must be >= 0")
		}
		if r.DB != 0 && r.MasterName == "" && (r.Cluster || len(r.Addrs) > 1) {
			bad("store.redis.db", "must be 0 in Cluster mode (several addrs or cluster: true)")
		}
		if r.Cluster && r.MasterName != "" {
			bad("store.redis.cluster", "cannot be combined with store.redis.masterName (Sentinel)")
		}
		if r.Timeout <= 0 {
			bad("store.redis.timeout", "must be > 0")
		}
		if strings.ContainsAny(r.KeyPrefix, " \t\r\n;,\"\\") && c.Session.Format == "koa" {
			bad("store.redis.keyPrefix", "%q cannot be part of a cookie value (format koa puts it in the session id)", r.KeyPrefix)
		}
		if !r.TLS.Enabled && (r.TLS.CAFile != "" || r.TLS.ServerName != "" || r.TLS.InsecureSkipVerify) {
			bad("store.redis.tls.enabled", "must be true when other store.redis.tls options are set")
		}
	default:
		bad("store.type", "%q must be cookie, memory or redis", c.Store.Type)
	}

	errs = append(errs, c.tokenProblems()...)
	if c.Token.TTL < Duration(MinTokenTTL) || c.Token.TTL > Duration(MaxTokenTTL) {
		bad("token.ttl", "must be between %v and %v (it is %v)", MinTokenTTL, MaxTokenTTL, time.Duration(c.Token.TTL))
	}
	if msg := checkTokenHeader(c.Token.Header); msg != "" {
		bad("token.header", "%q %s", c.Token.Header, msg)
	}

	if t := c.Admin.Token; t != "" && len(t) < 16 {
		bad("admin.token", "must be at least 16 characters (it has %d)", len(t))
	}
	if c.Admin.Listen != "" {
		checkAddr("admin.listen", c.Admin.Listen)
		if _, port, _ := net.SplitHostPort(c.Listen); c.Admin.Listen == c.Listen && port != "0" {
			bad("admin.listen", "must differ from listen: the admin endpoints never share the public listener")
		}
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "%q must be json or text", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	return errors.Join(errs...)
}

// redactURL hides a password in a URL that is quoted in an error. In
// one that does not parse as a URL with a user (a space in it, a "/" in
// the password), everything from the scheme to the last "@" is hidden.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil && (p.User != nil || !strings.Contains(u, "@")) {
		return p.Redacted()
	}
	at := strings.LastIndex(u, "@")
	if at < 0 {
		return u
	}
	start := strings.Index(u, "://")
	if start < 0 || start > at {
		start = 0
	} else {
		start += len("://")
	}
	return u[:start] + "xxxxx" + u[at:]
}

// tokenHeaderName is what token.header may look like: an X- header of
// letters, digits and dashes.
var tokenHeaderName = regexp.MustCompile(`^[Xx]-[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

// proxyHeaders are headers the proxy or its peers set for the upstream.
// Every header named token.header or starting with it plus "-" belongs to
// the proxy and is stripped from requests and responses, so the name must
// not cover any of these.
var proxyHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id"}

// checkTokenHeader says what is wrong with a token.header value ("" if
// nothing).
func checkTokenHeader(h string) string {
	if !tokenHeaderName.MatchString(h) {
		return `must be an "X-" header name of letters, digits and dashes, such as X-Session`
	}
	for _, std := range proxyHeaders {
		if strings.EqualFold(std, h) || strings.HasPrefix(strings.ToLower(std), strings.ToLower(h)+"-") {
			return "would strip " + std + ": every header named like it or starting with it plus \"-\" belongs to the proxy"
		}
	}
	return ""
}

// checkUserKey says what is wrong with a session.userKey ("" if nothing).
func checkUserKey(k string) string {
	for part := range strings.SplitSeq(k, ".") {
		if part == "" {
			return `must be a dotted path such as "user.id", without empty parts`
		}
	}
	if strings.HasPrefix(k, "_") {
		return `starts with "_": top-level keys starting with "_" are reserved, never session data`
	}
	return ""
}

// isLoopback reports whether the listen address addr binds only a
// loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
