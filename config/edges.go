package config

import (
	"fmt"
	"time"

	"github.com/sessionproxy/sessionproxy/proxy"
)

// The bounds of token.ttl: a token is minted for every request, so a
// short life costs nothing, and a long one lets a token copied from a log
// or a proxy be replayed to the upstream for that long.
const (
	MinTokenTTL = time.Second
	MaxTokenTTL = time.Hour
)

// MinKoaKeyLength is the key length below which a koa-format key draws
// a warning: koa's signature is HMAC-SHA1 over a value the client sees,
// so one signed cookie is enough to search for a short key offline.
const MinKoaKeyLength = 32

// validateEdges checks the settings of the deployment's edges: the
// public listener's TLS and trusted proxies, its body timeout and
// upstream connection cap, and that the token secret is no cookie key.
func (c *Config) validateEdges() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	sv := c.Server
	for i, cidr := range sv.TrustedProxies {
		if _, err := proxy.ParseTrustedProxies([]string{cidr}); err != nil {
			bad(fmt.Sprintf("server.trustedProxies[%d]", i), "%q is not a CIDR or an IP address", cidr)
		}
	}
	switch {
	case sv.TLS.CertFile != "" && sv.TLS.KeyFile == "":
		bad("server.tls.keyFile", "is required with server.tls.certFile")
	case sv.TLS.CertFile == "" && sv.TLS.KeyFile != "":
		bad("server.tls.certFile", "is required with server.tls.keyFile")
	}
	if sv.BodyIdleTimeout < 0 {
		bad("server.bodyIdleTimeout", "must be >= 0 (0 turns it off)")
	}
	if sv.MaxConnsPerUpstream < 0 {
		bad("server.maxConnsPerUpstream", "must be >= 0 (0 is no cap)")
	}
	for i, k := range c.Keys {
		if k != "" && k == c.Token.Secret {
			// The upstream holds the token secret: with it, it could
			// sign or encrypt session cookies.
			bad("token.secret", "must differ from every cookie key (it is keys[%d]): the upstream that verifies tokens must not be able to make cookies", i)
		}
	}
	return errs
}

// Warnings returns what c allows but is weak, each as "path: problem",
// for the log at start and -check's output.
func (c *Config) Warnings() []string {
	var ws []string
	if c.Session.Format == "koa" && c.Session.Signed {
		for i, k := range c.Keys {
			if k != "" && len(k) < MinKoaKeyLength {
				ws = append(ws, fmt.Sprintf("keys[%d]: %d characters: a koa-format signature made with a key this short can be brute-forced offline from one cookie; "+
					"use %d or more random characters, keeping the old key after it only while Koa apps still sign with it", i, len(k), MinKoaKeyLength))
			}
		}
	}
	if c.Session.Format == "koa" && !c.Session.Signed {
		ws = append(ws, "session.signed: false: any client can write any session into its cookie (koa-session's signed: false); only for sessions that hold nothing worth forging")
	}
	return ws
}
