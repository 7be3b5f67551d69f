package config

import (
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid config; ${K} and ${S} come from env below.
const minimal = `
upstream: http://127.0.0.1:8080
keys: ["${K}"]
token:
  secret: "${S}"
`

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var testEnv = env(map[string]string{
	"K": "k0123456789abcdef0123456789abcdef",
	"S": "s0123456789abcdef0123456789abcdef",
})

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if c.Listen != want.Listen || c.Session.Key != "koa.sess" || c.Session.MaxAge.Duration != 24*time.Hour ||
		c.Session.Format != "secure" || !c.Session.HTTPOnly || !c.Session.Signed || c.Store.Type != "cookie" ||
		time.Duration(c.Token.TTL) != time.Minute || c.Token.Header != "X-Session" || c.Admin.Listen != "127.0.0.1:9090" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Keys[0] != "k0123456789abcdef0123456789abcdef" || c.Token.Secret != "s0123456789abcdef0123456789abcdef" {
		t.Errorf("${VAR} not expanded: keys %v, secret %q", c.Keys, c.Token.Secret)
	}
}

func TestParseMaxAge(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  MaxAge
	}{
		{"milliseconds", "86400000", MaxAge{Duration: 24 * time.Hour}},
		{"duration", `"90m"`, MaxAge{Duration: 90 * time.Minute}},
		{"session", "session", MaxAge{Session: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(minimal+"session:\n  maxAge: "+tc.value+"\n"), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if c.Session.MaxAge != tc.want {
				t.Errorf("maxAge %s = %v, want %v", tc.value, c.Session.MaxAge, tc.want)
			}
		})
	}
}

// A config error never shows a secret: not a password in an upstream URL
// (even one that does not parse), nor a key that a ${VAR} put where it
// does not belong.
func TestParseErrorsKeepSecretsOut(t *testing.T) {
	for _, tc := range []struct{ name, yaml, secret string }{
		{"upstream that does not parse", "upstream: \"http://user:TOPSECRET@exa mple.com\"\nkeys: [\"${K}\"]\ntoken:\n  secret: ${S}\n", "TOPSECRET"},
		{"route upstream", minimal + "routes:\n  - path: /a/\n    upstream: \"ftp://user:ROUTESECRET@host\"\n", "ROUTESECRET"},
		{"route upstream that does not parse", minimal + "routes:\n  - path: /a/\n    upstream: \"http://u:ROUTESECRET@ho st/x@y\"\n", "ROUTESECRET"},
		{"a key where a list belongs", "upstream: http://x\nkeys: ${K}\ntoken:\n  secret: ${S}\n", "k0123"},
		{"a secret where a map belongs", "upstream: http://x\nkeys: [\"${K}\"]\ntoken: ${S}\n", "s0123"},
		{"a key with a backtick", "upstream: http://x\nkeys: ${B}\ntoken:\n  secret: ${S}\n", "Pa5"},
		{"a key where a duration belongs", minimal + "server:\n  idleTimeout: ${K}\n", "k0123"},
		{"a key where a word belongs", minimal + "session:\n  sameSite: ${K}\nlog:\n  level: ${S}\n", "0123456789"},
		{"a key where maxAge belongs", minimal + "session:\n  maxAge: ${K}\n", "k0123"},
		{"a quote in a key where a word belongs", minimal + "session:\n  sameSite: ${Q}\n", "hunter"},
		{"a backslash in a key where a duration belongs", minimal + "server:\n  idleTimeout: ${E}\n", "s3cr"},
		{"a newline in a key where a list belongs", "upstream: http://x\nkeys: ${N}\ntoken:\n  secret: ${S}\n", "abc"},
		// Secrets shorter than 8 characters, hidden all the same.
		{"a short password where a word belongs too", minimal + redisPassword + "session:\n  sameSite: ${P}\n", "hunt3r"},
		{"a short password swapped into a word", minimal + "session:\n  sameSite: ${P}\n", "hunt3r"},
		{"a short password where an address belongs", minimal + redisPassword + "listen: ${P}\n", "hunt3r"},
		{"a short password where a duration belongs", minimal + redisPassword + "server:\n  idleTimeout: ${P}\n", "hunt3r"},
		{"a short koa key where a number belongs", "upstream: http://x\nkeys: [\"${D}\"]\nsession:\n  format: koa\ntoken:\n  secret: ${S}\nserver:\n  maxHeaderBytes: ${D}\n", "1234"},
		{"a short admin token where a word belongs", minimal + "admin:\n  token: ${P}\nlog:\n  format: ${P}\n", "hunt3r"},
		// A secret with the newline of the file it was read from, or a
		// space, where maxAge belongs (which trims it before it parses).
		{"a key and its newline where maxAge belongs", minimal + "session:\n  maxAge: ${KN}\n", "n0123"},
		{"a short password and a space where maxAge belongs", minimal + strings.ReplaceAll(redisPassword, "${P}", "${PS}") + "session:\n  maxAge: ${PS}\n", "hunt3r"},
		{"a numeric password and its newline where maxAge belongs", minimal + strings.ReplaceAll(redisPassword, "${P}", "${PN}") + "session:\n  maxAge: ${PN}\n", "99999999999999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), env(map[string]string{
				"K":  "k0123456789abcdef0123456789abcdef",
				"S":  "s0123456789abcdef0123456789abcdef",
				"B":  "Pa5`word0123456789abcdef0123456789",
				"Q":  `hunter"2-is-my-password`,
				"E":  `s3cr\et-password-value`,
				"N":  "abc\ndefghijklmnopqrstuvwxyz0123",
				"P":  "hunt3r",
				"D":  "1234",
				"KN": "n0123456789abcdef0123456789abcdef\n",
				"PS": " hunt3r",
				"PN": "99999999999999\n",
			}))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), ": ") {
				t.Errorf("the error no longer says where: %v", err)
			}
		})
	}
}

// redisPassword puts ${P} where a secret belongs, for the tests above.
const redisPassword = "store:\n  type: redis\n  redis:\n    password: ${P}\n"

// A short value from the environment that is no secret may show in an
// error unquoted, but the error still says where, and what is wrong.
func TestParseErrorsNameShortValuesByTheirVariable(t *testing.T) {
	_, err := Parse([]byte(minimal+"session:\n  sameSite: ${SS}\n"), env(map[string]string{
		"K": "k0123456789abcdef0123456789abcdef", "S": "s0123456789abcdef0123456789abcdef", "SS": "lux",
	}))
	if want := "session.sameSite: ${SS} must be lax, strict, none or empty"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // every one must appear in the error
	}{
		{"unknown key names its path", minimal + "session:\n  maxage: 1000\n", nil,
			[]string{"line 7: unknown key session.maxage"}},
		{"type error names the key", minimal + "server:\n  maxHeaderBytes: lots\n", nil,
			[]string{"line 7: server.maxHeaderBytes: cannot unmarshal !!str into int"}},
		{"custom value error names the key", minimal + "\n\n# a comment\nserver:\n\n  idleTimeout: soon\n", nil,
			[]string{`line 11: server.idleTimeout: "soon" is not a duration`}},
		{"unknown top-level key", minimal + "listn: :3000\n", nil, []string{"unknown key listn"}},
		{"unset variable", minimal, map[string]string{"K": "k0123456789abcdef0123456789abcdef"},
			[]string{"environment variable S is not set"}},
		{"bad maxAge", minimal + "session:\n  maxAge: soon\n", nil, []string{`maxAge "soon"`}},
		{"zero maxAge", minimal + "session:\n  maxAge: 0\n", nil, []string{`session.maxAge: must be > 0 or "session"`}},
		{"1000 years of ms", minimal + "session:\n  maxAge: 31536000000000\n", nil, []string{`maxAge "31536000000000" ms is more than 100 years`}},
		{"ms past int64 ns", minimal + "session:\n  maxAge: 1000000000000000\n", nil, []string{`is more than 100 years`}},
		{"a duration past 100 years", minimal + "session:\n  maxAge: 1000000h\n", nil, []string{`session.maxAge: must be at most 100 years`}},
		{"every problem at once", `
listen: nowhere
upstream: ftp://x
keys: [short]
session:
  sameSite: sometimes
store:
  type: disk
token:
  secret: tiny
log:
  level: loud
`, nil, []string{"listen:", "upstream:", "keys[0]: must be at least 32", "session.sameSite:",
			"store.type:", "token.secret:", "log.level:"}},
		{"bad format", minimal + "session:\n  format: json\n", nil, []string{`session.format: "json" must be secure or koa`}},
		{"bad keygrip algorithm", minimal + "session:\n  format: koa\n  keygripAlgorithm: md5\n", nil, []string{`session.keygripAlgorithm: "md5" must be sha1, sha256, sha384 or sha512`}},
		{"keygrip algorithm for secure", minimal + "session:\n  keygripAlgorithm: sha256\n", nil, []string{`session.keygripAlgorithm: is for session.format koa`}},
		{"unsigned store ids", minimal + "session:\n  format: koa\n  signed: false\nstore:\n  type: redis\n", nil,
			[]string{"session.signed: false is not allowed with store.type redis"}},
		{"sameSite none needs secure", minimal + "session:\n  sameSite: none\n", nil, []string{"session.sameSite:"}},
		{"token header not X-", "upstream: http://x\nkeys: [\"${K}\"]\ntoken:\n  secret: ${S}\n  header: Content\n", nil, []string{`token.header: "Content" must be an "X-" header`}},
		{"token header covers X-Forwarded-*", "upstream: http://x\nkeys: [\"${K}\"]\ntoken:\n  secret: ${S}\n  header: X-Forwarded\n", nil, []string{`token.header: "X-Forwarded" would strip X-Forwarded-For`}},
		{"bad secure", minimal + "session:\n  secure: maybe\n", nil, []string{`secure "maybe"`}},
		{"admin on the public listener", minimal + "listen: :3000\nadmin:\n  listen: :3000\n", nil, []string{"admin.listen:"}},
		{"missing upstream", "keys: [x]\n", nil, []string{"upstream: is required", "token.secret"}},
		{"bad upstream hides its password", "upstream: ftp://u:hunter2@x\nkeys: [x]\n", nil, []string{`upstream: "ftp://u:xxxxx@x"`}},
		{"unknown redis key", minimal + "store:\n  redis:\n    adress: x\n", nil, []string{"unknown key store.redis.adress"}},
		{"unknown tls key", minimal + "store:\n  redis:\n    tls:\n      ca: x\n", nil, []string{"unknown key store.redis.tls.ca"}},
		{"bad redis store", minimal + `
store:
  type: redis
  redis:
    addrs: ["127.0.0.1:1", nowhere]
    db: 2
    timeout: 0s
    tls:
      caFile: ca.pem
`, nil, []string{"store.redis.addrs[1]:", "store.redis.db: must be 0 in Cluster mode", "store.redis.timeout: must be > 0",
			"store.redis.tls.enabled:"}},
		{"no redis addrs", minimal + "store:\n  type: redis\n  redis:\n    addrs: []\n", nil, []string{"store.redis.addrs: at least one"}},
		{"sentinel and cluster", minimal + "store:\n  type: redis\n  redis:\n    masterName: m\n    cluster: true\n", nil, []string{"store.redis.cluster:"}},
		{"memory bound", minimal + "store:\n  type: memory\n  memory:\n    maxEntries: 0\n", nil, []string{"store.memory.maxEntries: must be > 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnv
			if tc.env != nil {
				e = env(tc.env)
			}
			_, err := Parse([]byte(tc.yaml), e)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestExpandKeepsSpecialCharacters(t *testing.T) {
	// A secret with YAML syntax in it must arrive verbatim, and must not
	// be expanded twice.
	secret := `a: b # c "d" 'e' ${K} - [f]` + strings.Repeat("x", 32)
	c, err := Parse([]byte(minimal), env(map[string]string{"K": "k0123456789abcdef0123456789abcdef", "S": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Token.Secret != secret {
		t.Errorf("secret = %q, want %q", c.Token.Secret, secret)
	}
}

func TestExpandTypedValues(t *testing.T) {
	c, err := Parse([]byte(minimal+"session:\n  rolling: ${R}\n  maxAge: ${M}\n"),
		env(map[string]string{"K": "k0123456789abcdef0123456789abcdef", "S": "s0123456789abcdef0123456789abcdef", "R": "true", "M": "5000"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Session.Rolling || c.Session.MaxAge.Duration != 5*time.Second {
		t.Errorf("rolling %v maxAge %v, want true and 5s", c.Session.Rolling, c.Session.MaxAge)
	}
}

func TestParseStoreDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal+"store:\n  type: redis\n  redis:\n    password: ${S}\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Store.Redis
	if len(r.Addrs) != 1 || r.Addrs[0] != "127.0.0.1:6379" || r.KeyPrefix != "koa:sess:" ||
		time.Duration(r.Timeout) != 2*time.Second || r.DB != 0 || r.Cluster || r.TLS.Enabled {
		t.Errorf("redis defaults not applied: %+v", r)
	}
	if r.Password != "s0123456789abcdef0123456789abcdef" {
		t.Errorf("password ${S} not expanded: %q", r.Password)
	}
	if c.Store.Memory.MaxEntries != 100_000 {
		t.Errorf("memory.maxEntries = %d, want 100000", c.Store.Memory.MaxEntries)
	}
}
