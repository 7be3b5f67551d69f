package token

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
)

// JWKSPath is where the admin listener serves the JWKS document.
const JWKSPath = "/.well-known/jwks.json"

// jwksMaxAge is how long a verifier may cache the document: long enough
// that verifiers do not poll, short enough that a key removed after a
// rotation is gone from their caches within minutes. A verifier that sees
// an unknown kid refetches at once anyway.
const jwksMaxAge = "300"

// JWKS is the published set of public keys, served as a JSON Web Key Set
// (RFC 7517) with an ETag, so that a verifier can cache it and revalidate
// cheaply. It is immutable: a reload builds a new one.
type JWKS struct {
	doc  []byte
	etag string
}

// NewJWKS returns the document publishing keys, in order.
func NewJWKS(keys []*Key) *JWKS {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	doc, _ := json.Marshal(set) // strings only: always marshals
	sum := sha256.Sum256(doc)
	return &JWKS{doc: doc, etag: `"` + b64(sum[:16]) + `"`}
}

// ServeHTTP serves the document, or 304 when the client's If-None-Match
// names its ETag.
func (j *JWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+jwksMaxAge)
	h.Set("ETag", j.etag)
	if etagMatches(r.Header.Get("If-None-Match"), j.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(j.doc)
}

// etagMatches reports whether an If-None-Match list names etag (RFC 9110
// 13.1.2: weak comparison, or "*").
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
