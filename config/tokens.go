package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/sessionproxy/sessionproxy/proxy/token"
)

// tokenProblems reports what is wrong with token.alg, token.secret and
// token.signingKeys together. It reads no file: LoadKeys does.
func (c *Config) tokenProblems() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	t := c.Token
	switch t.Alg {
	case token.HS256:
		if len(t.Secret) < 32 {
			bad("token.secret", "must be at least 32 characters (it has %d)", len(t.Secret))
		}
		if len(t.SigningKeys) > 0 {
			bad("token.signingKeys", "are used only with token.alg EdDSA or ES256 (token.alg is HS256, which signs with token.secret)")
		}
	case token.EdDSA, token.ES256:
		if t.Secret != "" {
			bad("token.secret", "must not be set with token.alg %s: every upstream holding it could mint tokens; remove it", t.Alg)
		}
		if len(t.SigningKeys) == 0 {
			bad("token.signingKeys", "at least one PEM file of a private key is required with token.alg %s (sessionproxy -genkey %s makes one)", t.Alg, genkeyKind(t.Alg))
		}
		for i, p := range t.SigningKeys {
			if p == "" {
				bad(fmt.Sprintf("token.signingKeys[%d]", i), "is empty")
			}
		}
	default:
		bad("token.alg", "%q must be HS256, EdDSA or ES256", t.Alg)
	}
	return errs
}

// genkeyKind is the `sessionproxy -genkey` argument for a key of alg.
func genkeyKind(alg string) string {
	if alg == token.ES256 {
		return "p256"
	}
	return "ed25519"
}

// LoadKeys reads the token signing keys c names (token.signingKeys), in
// order, as keys for token.alg: the first signs, all are published. With
// HS256 there are none. It is the one step of loading a config that reads
// files other than the config itself, so it is kept apart from Validate:
// start-up, -check and every reload run it after Load. Each error names
// the key's YAML path and file, and says what is wrong: a file that cannot
// be read, no PEM in it, a public key, a key of the wrong type for
// token.alg, or the same key twice.
func LoadKeys(c Config) ([]*token.Key, error) {
	if c.Token.Alg == token.HS256 {
		return nil, nil
	}
	var keys []*token.Key
	var errs []error
	seen := map[string]int{} // key id → index
	for i, path := range c.Token.SigningKeys {
		at := fmt.Sprintf("token.signingKeys[%d]", i)
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err)) // names the file and the OS error
			continue
		}
		k, err := token.ParseKey(b, c.Token.Alg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", at, path, err))
			continue
		}
		if j, ok := seen[k.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: %s is the same key as token.signingKeys[%d]", at, path, j))
			continue
		}
		seen[k.ID] = i
		keys = append(keys, k)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}
