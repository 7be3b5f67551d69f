// Package config turns sessionproxy's YAML file into a validated Config.
// It is the only package that knows YAML: it applies the defaults, decodes
// the file strictly (an unknown key is an error), replaces ${VAR} with the
// environment, and validates every value, reporting all problems at once
// with their YAML paths. It does no I/O beyond reading the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sessionproxy/sessionproxy/proxy"
	"github.com/sessionproxy/sessionproxy/proxy/token"
	"github.com/sessionproxy/sessionproxy/session"
	"github.com/sessionproxy/sessionproxy/session/redisstore"
)

// Config is sessionproxy's configuration. The YAML keys are the field
// tags; those under session are koa-session's own option names.
type Config struct {
	// Listen is the public listener's address. Default ":3000".
	Listen string `yaml:"listen"`
	// Upstream is the app's base URL, http or https. Required.
	Upstream string `yaml:"upstream"`
	// UpstreamTimeouts bound the proxy's connections to the upstream.
	UpstreamTimeouts UpstreamTimeouts `yaml:"upstreamTimeouts"`
	// Server holds the public listener's limits and timeouts.
	Server Server `yaml:"server"`
	// Keys are koa's app.keys: the first signs or encrypts, all verify.
	// Required; at least 32 characters each for the secure format.
	Keys []string `yaml:"keys"`
	// Session holds koa-session's options.
	Session Session `yaml:"session"`
	// Routes change how requests under a path are proxied. The first
	// route whose path is a prefix of the request path (the longest, when
	// several match) applies; other requests go to Upstream.
	Routes []Route `yaml:"routes"`
	// Store says where sessions live.
	Store Store `yaml:"store"`
	// Token configures the JWT the upstream receives.
	Token Token `yaml:"token"`
	// Admin configures the operator's listener.
	Admin Admin `yaml:"admin"`
	// Log configures logging.
	Log Log `yaml:"log"`
}

// Session holds koa-session's options, with its names and meanings.
type Session struct {
	// Key is the cookie name. Default "koa.sess".
	Key string `yaml:"key"`
	// MaxAge is the session lifetime: milliseconds, a Go duration such as
	// "24h", or "session" for a browser-session cookie. Default 1 day.
	MaxAge MaxAge `yaml:"maxAge"`
	// Format is the cookie format, "secure" or "koa". Default "secure".
	Format string `yaml:"format"`
	// Signed signs koa-format cookies (koa.sess.sig). Default true.
	Signed bool `yaml:"signed"`
	// KeygripAlgorithm is the koa format's signature hash, for a Koa app
	// whose app.keys is new Keygrip(keys, algorithm): sha1 (keygrip's
	// default), sha256, sha384 or sha512. Default sha1.
	KeygripAlgorithm string `yaml:"keygripAlgorithm"`
	// HTTPOnly hides the cookie from scripts. Default true.
	HTTPOnly bool `yaml:"httpOnly"`
	// Secure is true, false, or "auto" (Secure when the request came to
	// the proxy over TLS). Default false.
	Secure Secure `yaml:"secure"`
	// SameSite is "lax", "strict", "none" or "" (no attribute). Default
	// "lax".
	SameSite string `yaml:"sameSite"`
	// Path is the cookie path. Default "/".
	Path string `yaml:"path"`
	// Domain is the cookie domain. Default none (host-only).
	Domain string `yaml:"domain"`
	// Rolling re-issues the cookie on every response. Default false.
	Rolling bool `yaml:"rolling"`
	// Renew re-issues the cookie when less than half its maxAge is left.
	// Default false.
	Renew bool `yaml:"renew"`
	// Overwrite makes the proxy's session cookie replace a Set-Cookie of
	// the same name earlier in the response, as cookies' overwrite does.
	// Default true.
	Overwrite bool `yaml:"overwrite"`
	// IdleTimeout ends a session unused this long; use extends it.
	// Default 0s (off).
	IdleTimeout Duration `yaml:"idleTimeout"`
	// AbsoluteTimeout ends a session this long after its creation or its
	// last X-Session-Renew, whatever its use. Default 0s (off).
	AbsoluteTimeout Duration `yaml:"absoluteTimeout"`
	// UserKey is a dotted path into the session data (such as "user.id")
	// naming the session's user: the proxy then indexes sessions by user
	// for X-Session-Destroy: others|all and the admin API's /sessions.
	// Memory and redis stores only. Default "" (off).
	UserKey string `yaml:"userKey"`
	// MaxBytes is the largest session data, in bytes of JSON: a change
	// that would grow it past this gets 502 and is not saved, so that
	// the X-Session token stays forwardable. Default 4096.
	MaxBytes int `yaml:"maxBytes"`
}

// Route is how requests under one path are proxied.
type Route struct {
	// Path is a path prefix such as "/legacy/". Required. It is matched
	// against the request path with its "." and ".." segments and repeated
	// slashes resolved, as nginx matches a location; the request path is
	// forwarded unchanged.
	Path string `yaml:"path"`
	// Upstream is the base URL for this route. Default: the top-level
	// upstream.
	Upstream string `yaml:"upstream"`
	// ForwardCookie passes the session cookie and its .sig to the
	// upstream, for an app that runs koa-session itself and shares the
	// session (format koa only). Default false: the proxy strips them.
	ForwardCookie bool `yaml:"forwardCookie"`
	// Audience is the token's "aud" claim for this route's requests.
	// Default: token.audience.
	Audience string `yaml:"audience"`
}

// Store says where sessions live.
type Store struct {
	// Type is "cookie" (in the cookie, no server), "memory" or "redis".
	// Default "cookie".
	Type string `yaml:"type"`
	// Memory configures the in-process store (type memory).
	Memory MemoryStore `yaml:"memory"`
	// Redis configures the Redis store (type redis).
	Redis RedisStore `yaml:"redis"`
}

// MemoryStore configures the in-process store.
type MemoryStore struct {
	// MaxEntries bounds the sessions kept; past it the least recently
	// used one-time session is dropped first. Default 100000.
	MaxEntries int `yaml:"maxEntries"`
	// MaxBytes bounds the memory the sessions take (ids, records and a
	// fixed overhead per entry); 0 turns the bound off. Default
	// 268435456 (256 MiB).
	MaxBytes int64 `yaml:"maxBytes"`
}

// RedisStore configures the Redis store. The mode follows go-redis's
// UniversalClient: MasterName set means Sentinel (Addrs are the
// sentinels), several Addrs or Cluster mean Cluster, else standalone.
type RedisStore struct {
	// Addrs are host:port addresses: the server, the cluster seeds, or
	// the sentinels. Default ["127.0.0.1:6379"].
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel master's name; set it to use Sentinel.
	MasterName string `yaml:"masterName"`
	// Cluster forces Cluster mode with a single seed address.
	Cluster bool `yaml:"cluster"`
	// Username and Password authenticate (Redis 6 ACL, or requirepass
	// with the password alone). Use ${VAR} for the password.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// SentinelPassword authenticates to the sentinels, if they need it.
	SentinelPassword string `yaml:"sentinelPassword"`
	// DB is the database number (standalone and Sentinel only).
	DB int `yaml:"db"`
	// TLS turns on TLS to Redis.
	TLS RedisTLS `yaml:"tls"`
	// KeyPrefix starts every session's key. In the secure format a key
	// is KeyPrefix + the hex SHA-256 of the session id. In the koa
	// format the key is the cookie's value, as with koa-session and
	// koa-redis, and KeyPrefix is koa-session's prefix option: new
	// session ids start with it. Default "koa:sess:".
	KeyPrefix string `yaml:"keyPrefix"`
	// Timeout bounds every Redis operation (dial, read, write, and a
	// whole update with its retries): past it the request gets 503.
	// Default 2s.
	Timeout Duration `yaml:"timeout"`
	// Pipeline lets the commands of concurrent requests share round
	// trips to Redis (sent together as one pipeline); false sends each
	// command on its own. Default true.
	Pipeline bool `yaml:"pipeline"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of CAs to trust instead of the system's.
	CAFile string `yaml:"caFile"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"serverName"`
	// InsecureSkipVerify accepts any certificate. Testing only.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
}

// Token configures the JWT in the X-Session request header.
type Token struct {
	// Alg is how the token is signed: "HS256" with Secret, or "EdDSA"
	// (Ed25519) or "ES256" (P-256) with SigningKeys. Default "HS256".
	Alg string `yaml:"alg"`
	// Secret is the HS256 key, at least 32 characters. Required with
	// HS256; not allowed with the other algs.
	Secret string `yaml:"secret"`
	// SigningKeys are PEM files of PKCS#8 private keys for EdDSA or
	// ES256: the first signs, every one is published in the JWKS.
	// Required with those algs; LoadKeys reads them.
	SigningKeys []string `yaml:"signingKeys"`
	// Audience is the token's "aud" claim; a route's own audience
	// overrides it. Default "": no "aud".
	Audience string `yaml:"audience"`
	// TTL is the token's lifetime. Default 60s.
	TTL Duration `yaml:"ttl"`
	// Header is the request header carrying the token; the directives
	// are named after it. Default "X-Session".
	Header string `yaml:"header"`
}

// Admin configures the operator's listener (/healthz, /readyz, /metrics).
type Admin struct {
	// Listen is its address; "" turns it off. Default "127.0.0.1:9090".
	Listen string `yaml:"listen"`
	// Pprof serves Go's profiles under /debug/pprof/ on the admin
	// listener, for finding what a running proxy spends its time on.
	// Default false.
	Pprof bool `yaml:"pprof"`
	// Token protects the /sessions API: requests need "Authorization:
	// Bearer <token>". Use ${VAR}. Default "" (no token; -check refuses
	// that with session.userKey on a non-loopback admin.listen).
	Token string `yaml:"token"`
}

// Server holds the public listener's limits and timeouts (the admin
// listener uses the same ones). Zero turns a timeout off.
type Server struct {
	// ReadHeaderTimeout bounds reading a request's headers (defeats
	// slow-loris clients). Default 10s; must be > 0.
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout bounds reading a whole request, body included. Default
	// 0 (none), so that slow uploads work.
	ReadTimeout Duration `yaml:"readTimeout"`
	// WriteTimeout bounds writing a response. Default 0 (none), so that
	// streams (SSE) and long downloads work.
	WriteTimeout Duration `yaml:"writeTimeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default
	// 120s.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxHeaderBytes limits the size of a request's headers. Default
	// 1048576 (1 MiB).
	MaxHeaderBytes int `yaml:"maxHeaderBytes"`
	// ShutdownTimeout is how long in-flight requests may take to finish
	// after SIGTERM or SIGINT. Default 30s; must be > 0.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// BodyIdleTimeout cuts a request body that sends nothing for this
	// long (nginx's client_body_timeout): the client gets 408 and the
	// upstream request is aborted. An upload that keeps sending is never
	// cut. Default 30s; 0 turns it off.
	BodyIdleTimeout Duration `yaml:"bodyIdleTimeout"`
	// MaxConnsPerUpstream caps the proxy's connections to each upstream;
	// requests past it wait for a free one. Default 0: no cap.
	MaxConnsPerUpstream int `yaml:"maxConnsPerUpstream"`
	// TrustedProxies are the CIDRs (or single addresses) of load
	// balancers in front of the proxy: only such a peer may set
	// X-Forwarded-For, -Proto, -Host and X-Real-IP; from any other they
	// are replaced. Default none.
	TrustedProxies []string `yaml:"trustedProxies"`
	// TLS serves HTTPS (and HTTP/2) on the public listener.
	TLS ServerTLS `yaml:"tls"`
}

// ServerTLS is the public listener's certificate. Both files are PEM and
// are read again on SIGHUP.
type ServerTLS struct {
	// CertFile is the certificate chain, leaf first. Default none: plain
	// HTTP.
	CertFile string `yaml:"certFile"`
	// KeyFile is the certificate's private key.
	KeyFile string `yaml:"keyFile"`
}

// Enabled reports whether the public listener serves HTTPS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// UpstreamTimeouts bound the proxy's connections to the upstream.
type UpstreamTimeouts struct {
	// Dial bounds connecting to the upstream. Default 5s.
	Dial Duration `yaml:"dial"`
	// ResponseHeader bounds the wait for the upstream's response headers
	// (not its body, so streams are unaffected); past it the client gets
	// 504. Default 60s.
	ResponseHeader Duration `yaml:"responseHeader"`
	// Send bounds a pause of the upstream taking a request body: when it
	// takes none of it for this long, the request is aborted and the
	// client gets 504 (nginx's proxy_send_timeout). Default 60s.
	Send Duration `yaml:"send"`
}

// Log configures logging.
type Log struct {
	// Format is "json" or "text". Default "json".
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `yaml:"level"`
	// Access turns on the access log: one line per request, at level
	// info. Default true.
	Access bool `yaml:"access"`
}

// The defaults of the session size and memory-store bounds.
const (
	// MinMemoryBytes is the smallest store.memory.maxBytes: about 2,700
	// signed-in users.
	MinMemoryBytes = 1 << 20
	// DefaultSessionMaxBytes keeps the X-Session token (about 4/3 of the
	// data plus some 200 bytes) under 8 KiB, which every common server
	// accepts in one request header.
	DefaultSessionMaxBytes = 4096
	DefaultMemoryMaxBytes  = 256 << 20
)

// Default returns the configuration with every default applied and no
// required value set. Where a package has a default of its own (session,
// proxy, redisstore), it is taken from there.
func Default() Config {
	return Config{
		Listen: ":3000",
		Session: Session{
			Key:              session.DefaultName,
			MaxAge:           MaxAge{Duration: time.Duration(session.DefaultMaxAge)},
			Format:           string(session.FormatSecure),
			Signed:           true,
			KeygripAlgorithm: "sha1",
			HTTPOnly:         true,
			SameSite:         "lax",
			Path:             "/",
			Overwrite:        true,
			MaxBytes:         DefaultSessionMaxBytes,
		},
		Store: Store{
			Type:   "cookie",
			Memory: MemoryStore{MaxEntries: session.DefaultMaxEntries, MaxBytes: DefaultMemoryMaxBytes},
			Redis: RedisStore{
				Addrs:     []string{"127.0.0.1:6379"},
				KeyPrefix: "koa:sess:",
				Timeout:   Duration(redisstore.DefaultTimeout),
				Pipeline:  true,
			},
		},
		UpstreamTimeouts: UpstreamTimeouts{
			Dial:           Duration(proxy.DefaultDialTimeout),
			ResponseHeader: Duration(proxy.DefaultResponseHeaderTimeout),
			Send:           Duration(proxy.DefaultSendTimeout),
		},
		Server: Server{
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			MaxHeaderBytes:    1 << 20,
			ShutdownTimeout:   Duration(30 * time.Second),
			BodyIdleTimeout:   Duration(proxy.DefaultBodyIdleTimeout),
		},
		Token: Token{Alg: token.HS256, TTL: Duration(proxy.DefaultTokenTTL), Header: proxy.DefaultHeader},
		Admin: Admin{Listen: "127.0.0.1:9090"},
		Log:   Log{Format: "json", Level: "info", Access: true},
	}
}

// Load reads the file at path, replaces ${VAR} from the environment,
// decodes it over Default() and validates it.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, os.LookupEnv)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over Default(), replacing ${VAR} in values with
// lookup(VAR), and validates the result. Its errors name a value that
// came from the environment by its ${VAR}, never by the value: it may be
// a secret put where it does not belong (a key in session.sameSite).
func Parse(b []byte, lookup func(string) (string, bool)) (Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return Config{}, err
	}
	env := envValues{ref: map[string]string{}, secret: map[string]bool{}}
	if err := expand(&root, lookup, env); err != nil {
		return Config{}, err
	}
	expanded, err := yaml.Marshal(&root)
	if err != nil {
		return Config{}, err
	}
	c := Default()
	if len(root.Content) > 0 {
		d := yaml.NewDecoder(bytes.NewReader(expanded))
		d.KnownFields(true)
		if err := d.Decode(&c); err != nil {
			return Config{}, hideEnv(explain(err, &root, expanded), env)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, hideEnv(err, env)
	}
	return c, nil
}

// envValues are the values ${VAR}s were replaced with, for the errors.
type envValues struct {
	ref    map[string]string // value → its ${VAR}
	secret map[string]bool   // the values that fill a secret key (secretKey)
}

// secretKey reports whether the value at a key path is a secret: a cookie
// key, the token secret, the admin token or a Redis password.
func secretKey(path string) bool {
	switch path {
	case "keys", "token.secret", "admin.token", "store.redis.password", "store.redis.sentinelPassword":
		return true
	}
	return strings.HasPrefix(path, "keys[")
}

// hideEnv writes err's message with the values of env replaced by their
// ${VAR}, the longest first:
//
//   - every value, whatever its length, where the message quotes it (as
//     %q does): a message quotes the value it is about, so a secret put
//     under another key (two variables swapped) is hidden however short;
//   - a value of 8 characters or more wherever it appears, as it is and
//     as %q escapes it;
//   - a secret (a value that fills a secret key), whatever its length,
//     also where it stands alone, unquoted (a number in "(it is 1234)").
//
// A short value that is no secret may show where it is not quoted: it
// could be any word of the message.
func hideEnv(err error, env envValues) error {
	values := make([]string, 0, len(env.ref))
	for v := range env.ref {
		if v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return err
	}
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	msg := err.Error()
	for _, v := range values {
		ref := env.ref[v]
		q := strconv.Quote(v)
		msg = strings.ReplaceAll(msg, q, ref)
		switch {
		case len(v) >= 8:
			msg = strings.ReplaceAll(msg, v, ref)
			if q[1:len(q)-1] != v {
				msg = strings.ReplaceAll(msg, q[1:len(q)-1], ref)
			}
		case env.secret[v]:
			msg = replaceWord(msg, v, ref)
		}
	}
	return errors.New(msg)
}

// replaceWord replaces every occurrence of old in s that is a word of its
// own: not next to a letter, a digit, '.', '_' or '-' (a key path such as
// store.redis.addrs is left as it is).
func replaceWord(s, old, new string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			break
		}
		end := i + len(old)
		if (i == 0 || !wordByte(s[i-1])) && (end == len(s) || !wordByte(s[end])) {
			b.WriteString(s[:i])
			b.WriteString(new)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

func wordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in every scalar value (not in keys) of n, and
// notes in env each value it put in, with its ${VAR}, and which of them
// fill a secret key.
func expand(n *yaml.Node, lookup func(string) (string, bool), env envValues) error {
	var errs []error
	var walk func(n *yaml.Node, path string, isKey bool)
	walk = func(n *yaml.Node, path string, isKey bool) {
		if n.Kind == yaml.ScalarNode && !isKey && strings.Contains(n.Value, "${") {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
				name := ref[2 : len(ref)-1]
				v, ok := lookup(name)
				if !ok {
					errs = append(errs, fmt.Errorf("line %d: environment variable %s is not set", n.Line, name))
				}
				env.ref[v] = ref
				if secretKey(path) {
					env.secret[v] = true
				}
				return v
			})
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
				// Unquoted: the value is typed as if written in place
				// (true, 1000); the encoder quotes it where needed.
				n.Tag = ""
			}
		}
		for i, c := range n.Content {
			switch n.Kind {
			case yaml.MappingNode:
				if i%2 == 0 {
					walk(c, path, true)
				} else {
					walk(c, keyPath(path, n.Content[i-1].Value), false)
				}
			case yaml.SequenceNode:
				walk(c, fmt.Sprintf("%s[%d]", path, i), false)
			default:
				walk(c, path, false)
			}
		}
	}
	walk(n, "", false)
	return errors.Join(errs...)
}

// keyPath is the dotted path of key under the mapping at prefix.
func keyPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)
	atLine       = regexp.MustCompile(`^line (\d+): `)
	quotedValue  = regexp.MustCompile("(?s)(cannot unmarshal !!\\S+) `.*` (into )")
)

// explain rewrites yaml.v3's decoding errors, which give a line of the
// re-encoded (expanded) YAML and a Go type, to name the key's YAML path and
// its line in the file as written: "line 7: unknown key session.maxage",
// "line 4: server.maxHeaderBytes: cannot unmarshal !!str into int". The
// value yaml.v3 quotes is left out: it may be a secret that a ${VAR} put
// where it does not belong (a key where a list of keys belongs).
func explain(err error, original *yaml.Node, expanded []byte) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		msgs[i] = quotedValue.ReplaceAllString(m, "$1 $2")
	}
	var exp yaml.Node
	if yaml.Unmarshal(expanded, &exp) != nil {
		return errors.New(strings.Join(msgs, "\n"))
	}
	pathAt := map[int]string{} // line in the expanded YAML → key path
	walkKeys(&exp, "", func(path string, line int) { pathAt[line] = path })
	lineOf := map[string]int{} // key path → line in the file
	walkKeys(original, "", func(path string, line int) { lineOf[path] = line })

	var errs []error
	for _, m := range msgs {
		sub := atLine.FindStringSubmatch(m)
		if sub == nil {
			errs = append(errs, errors.New(m))
			continue
		}
		n, _ := strconv.Atoi(sub[1])
		path, ok := pathAt[n]
		if !ok {
			errs = append(errs, errors.New(m))
			continue
		}
		line := lineOf[path]
		if unknownField.MatchString(m) {
			errs = append(errs, fmt.Errorf("line %d: unknown key %s", line, path))
			continue
		}
		errs = append(errs, fmt.Errorf("line %d: %s: %s", line, path, m[len(sub[0]):]))
	}
	return errors.Join(errs...)
}

// walkKeys calls fn with the dotted path and line of every mapping key in
// n ("store.redis.addrs"; sequence items as "routes[0].path").
func walkKeys(n *yaml.Node, prefix string, fn func(path string, line int)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkKeys(c, prefix, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			path := prefix + n.Content[i].Value
			fn(path, n.Content[i].Line)
			walkKeys(n.Content[i+1], path+".", fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkKeys(c, fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i), fn)
		}
	}
}
