package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sessionproxy/sessionproxy/session"
)

// MaxAge is koa-session's maxAge: a duration, or Session for a cookie that
// ends with the browser session.
type MaxAge struct {
	Duration time.Duration
	Session  bool
}

// UnmarshalYAML accepts milliseconds (koa's unit), a Go duration string
// such as "24h", or "session".
func (m *MaxAge) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: maxAge must be milliseconds, a duration like \"24h\", or \"session\"", n.Line)
	}
	if v == "session" {
		*m = MaxAge{Session: true}
		return nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms > int64(session.LongestMaxAge/session.MaxAge(time.Millisecond)) {
			return fmt.Errorf("line %d: maxAge %q ms is more than 100 years", n.Line, n.Value)
		}
		*m = MaxAge{Duration: time.Duration(ms) * time.Millisecond}
		return nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		*m = MaxAge{Duration: d}
		return nil
	}
	// n.Value as written, not v: a value from ${VAR} is hidden in an
	// error by the quoted form of the whole value (a secret with the
	// trailing newline of the file it came from, put here by mistake).
	return fmt.Errorf("line %d: maxAge %q is not milliseconds, a duration like \"24h\", or \"session\"", n.Line, n.Value)
}

// String returns "session" or the duration.
func (m MaxAge) String() string {
	if m.Session {
		return "session"
	}
	return m.Duration.String()
}

// Duration is a time.Duration written as a Go duration string ("60s").
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string such as "60s" or "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration like \"60s\" or \"1m30s\"", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Secure is the cookie's Secure attribute: true, false or auto.
type Secure string

// The Secure values.
const (
	SecureOff  Secure = ""
	SecureOn   Secure = "true"
	SecureAuto Secure = "auto"
)

// UnmarshalYAML accepts a boolean or "auto".
func (s *Secure) UnmarshalYAML(n *yaml.Node) error {
	switch strings.ToLower(strings.TrimSpace(n.Value)) {
	case "true":
		*s = SecureOn
	case "false":
		*s = SecureOff
	case "auto":
		*s = SecureAuto
	default:
		return fmt.Errorf("line %d: secure %q must be true, false or \"auto\"", n.Line, n.Value)
	}
	return nil
}
