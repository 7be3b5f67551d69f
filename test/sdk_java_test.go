package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestJavaExample runs examples/java/SessionApp.java, a JDK-only upstream
// with no session library, behind the real proxy: the seed flow, and a
// token forged with another secret refused with 401.
func TestJavaExample(t *testing.T) {
	t.Parallel()
	java := requireTool(t, "java")
	_, m := startProcess(t, listeningOn, []string{"UPSTREAM_SECRET=" + testSecret}, java, "../examples/java/SessionApp.java", "--port", "0")
	up := "http://" + m[1]

	t.Run("seed", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, baseConfig(up).set("store.type", "memory"))
		c := newClient(t)
		goSDKGet(t, c, p.URL+"/get", http.StatusNoContent, "")
		resp := goSDKGet(t, c, p.URL+"/set", http.StatusOK, "session set")
		if len(sessionCookies(resp, "koa.sess")) == 0 {
			t.Fatalf("/set set no session cookie: %v", resp.Header["Set-Cookie"])
		}
		goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
		old := goSDKCookie(t, c, p.URL)
		resp = goSDKGet(t, c, p.URL+"/renew", http.StatusOK, "session renewed")
		if len(sessionCookies(resp, "koa.sess")) == 0 {
			t.Fatalf("/renew set no cookie: %v", resp.Header["Set-Cookie"])
		}
		goSDKGet(t, c, p.URL+"/get", http.StatusOK, goSDKUser)
		goSDKGet(t, plainHTTPClient(), p.URL+"/get", http.StatusNoContent, "", old) // the old id is gone
		resp = goSDKGet(t, c, p.URL+"/destroy", http.StatusOK, "session destroyed")
		if cs := sessionCookies(resp, "koa.sess"); len(cs) == 0 || cs[0].Value != "" {
			t.Fatalf("/destroy did not clear the cookie: %v", resp.Header["Set-Cookie"])
		}
		goSDKGet(t, c, p.URL+"/get", http.StatusNoContent, "")
	})

	t.Run("forged", func(t *testing.T) {
		t.Parallel()
		mint := func(method jwt.SigningMethod, secret any, iss string, exp time.Duration) string {
			tok, err := jwt.NewWithClaims(method, jwt.MapClaims{
				"sid": "forged", "sess": map[string]any{"user": map[string]any{"name": "admin"}}, "new": false,
				"iss": iss, "iat": time.Now().Unix(), "exp": time.Now().Add(exp).Unix(),
			}).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		good := mint(jwt.SigningMethodHS256, []byte(testSecret), "sessionproxy", time.Minute)
		refused := map[string]string{
			"none":           "",
			"garbage":        "not-a-token",
			"another secret": mint(jwt.SigningMethodHS256, []byte("not-the-proxy-secret-0123456789abcdef"), "sessionproxy", time.Minute),
			"HS512":          mint(jwt.SigningMethodHS512, []byte(testSecret), "sessionproxy", time.Minute),
			"alg none":       mint(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "sessionproxy", time.Minute),
			"expired":        mint(jwt.SigningMethodHS256, []byte(testSecret), "sessionproxy", -time.Minute),
			"other issuer":   mint(jwt.SigningMethodHS256, []byte(testSecret), "someone", time.Minute),
			"cut signature":  good[:strings.LastIndex(good, ".")+1],
		}
		c := plainHTTPClient()
		for name, token := range refused {
			resp, body := get(t, c, up+"/get", "X-Session: "+token)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d (%q), want 401", name, resp.StatusCode, body)
			}
		}
		goSDKGet(t, c, up+"/get", http.StatusOK, `{"name":"admin"}`, "X-Session: "+good)
	})
}
