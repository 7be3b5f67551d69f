package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Validate reports every problem in c at once, each as "path: problem".
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(path, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(path, "%q is not host:port (%v)", addr, err)
		}
	}

	checkAddr("listen", c.Listen)
	if c.Upstream == "" {
		bad("upstream", "is required")
	} else if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("upstream", "%q must be an http:// or https:// URL", c.Upstream)
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
	positive("server.readHeaderTimeout", c.Server.ReadHeaderTimeout)
	notNegative("server.readTimeout", c.Server.ReadTimeout)
	notNegative("server.writeTimeout", c.Server.WriteTimeout)
	notNegative("server.idleTimeout", c.Server.IdleTimeout)
	positive("server.shutdownTimeout", c.Server.ShutdownTimeout)
	if c.Server.MaxHeaderBytes < 4096 {
		bad("server.maxHeaderBytes", "must be at least 4096 (it is %d)", c.Server.MaxHeaderBytes)
	}

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
	}
	switch s.Format {
	case "secure", "koa":
	default:
		bad("session.format", "%q must be secure or koa", s.Format)
	}
	switch strings.ToLower(s.SameSite) {
	case "", "lax", "strict", "none":
	default:
		bad("session.sameSite", "%q must be lax, strict, none or empty", s.SameSite)
	}
	if strings.EqualFold(s.SameSite, "none") && s.Secure == SecureOff {
		bad("session.sameSite", `"none" needs session.secure true or auto (browsers drop it otherwise)`)
	}
	if !strings.HasPrefix(s.Path, "/") {
		bad("session.path", "%q must start with /", s.Path)
	}
	if !s.Signed && s.Format == "secure" {
		bad("session.signed", "false is only allowed with format koa; secure cookies are always authenticated")
	}

	switch c.Store.Type {
	case "cookie", "memory", "redis":
	default:
		bad("store.type", "%q must be cookie, memory or redis", c.Store.Type)
	}

	if len(c.Token.Secret) < 32 {
		bad("token.secret", "must be at least 32 characters (it has %d)", len(c.Token.Secret))
	}
	if c.Token.TTL <= 0 {
		bad("token.ttl", "must be > 0")
	}
	if c.Token.Header == "" || strings.ContainsAny(c.Token.Header, " :\t") {
		bad("token.header", "%q is not a valid header name", c.Token.Header)
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
