package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/config"
)

func TestSessionLifetimeAndUsers(t *testing.T) {
	env := func(name string) (string, bool) {
		if name == "ADMIN_TOKEN" {
			return "an-admin-token-0123456789", true
		}
		return "", false
	}
	tests := []struct {
		name string
		yaml string
		err  string // a substring of the error; "" for none
	}{
		{"timeouts", "session: {idleTimeout: 30m, absoluteTimeout: 12h}", ""},
		{"negative idle", "session: {idleTimeout: -1s}", "session.idleTimeout: must be >= 0"},
		{"negative absolute", "session: {absoluteTimeout: -1s}", "session.absoluteTimeout: must be >= 0"},
		{"negative maxBytes", "session: {maxBytes: -1}", "session.maxBytes: must be >= 0"},
		{"negative memory maxBytes", "store: {type: memory, memory: {maxBytes: -1}}", "store.memory.maxBytes: must be 0 (off) or at least"},
		{"memory maxBytes below a session or two", "store: {type: memory, memory: {maxBytes: 3000}}", "store.memory.maxBytes: must be 0 (off) or at least 1048576"},
		{"userKey with memory", "session: {userKey: user.id}\nstore: {type: memory}", ""},
		{"userKey with redis", "session: {userKey: uid}\nstore: {type: redis}", ""},
		{"userKey with the cookie store", "session: {userKey: user.id}", "session.userKey: needs store.type memory or redis"},
		{"userKey with an empty part", "session: {userKey: user..id}\nstore: {type: memory}", `session.userKey: "user..id" must be a dotted path`},
		{"userKey reserved", "session: {userKey: _user_id}\nstore: {type: memory}", `starts with "_"`},
		{"userKey on a public admin listener without a token", "session: {userKey: user.id}\nstore: {type: memory}\nadmin: {listen: \":9090\"}", `admin.token: is required when admin.listen ":9090" is not a loopback address`},
		{"userKey on a public admin listener with a token", "session: {userKey: user.id}\nstore: {type: memory}\nadmin: {listen: \"0.0.0.0:9090\", token: \"${ADMIN_TOKEN}\"}", ""},
		{"userKey on loopback without a token", "session: {userKey: user.id}\nstore: {type: memory}\nadmin: {listen: \"[::1]:9090\"}", ""},
		{"short admin token", "admin: {token: short}", "admin.token: must be at least 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(minimal+tt.yaml), env)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
			if tt.name == "timeouts" && (time.Duration(c.Session.IdleTimeout) != 30*time.Minute || time.Duration(c.Session.AbsoluteTimeout) != 12*time.Hour) {
				t.Errorf("timeouts %v %v", c.Session.IdleTimeout, c.Session.AbsoluteTimeout)
			}
		})
	}
}
