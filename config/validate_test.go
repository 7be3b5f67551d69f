package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sessionproxy/sessionproxy/config"
)

const minimal = `
upstream: http://127.0.0.1:8080
keys: ["0123456789abcdef0123456789abcdef"]
token: {secret: "an-upstream-secret-of-at-least-32-chars"}
`

func TestServerAndUpstreamTimeouts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		err  string // a substring of the error; "" for none
	}{
		{"defaults", "", ""},
		{"all set", "server: {readHeaderTimeout: 5s, readTimeout: 1m, writeTimeout: 2m, idleTimeout: 0s, maxHeaderBytes: 65536, shutdownTimeout: 10s}\nupstreamTimeouts: {dial: 1s, responseHeader: 5m, send: 2m}", ""},
		{"no read-header timeout", "server: {readHeaderTimeout: 0s}", "server.readHeaderTimeout: must be > 0"},
		{"negative idle", "server: {idleTimeout: -1s}", "server.idleTimeout: must be >= 0"},
		{"tiny header limit", "server: {maxHeaderBytes: 100}", "server.maxHeaderBytes: must be at least 4096"},
		{"no shutdown time", "server: {shutdownTimeout: 0s}", "server.shutdownTimeout: must be > 0"},
		{"no dial timeout", "upstreamTimeouts: {dial: 0s}", "upstreamTimeouts.dial: must be > 0"},
		{"no header timeout", "upstreamTimeouts: {responseHeader: 0s}", "upstreamTimeouts.responseHeader: must be > 0"},
		{"no send timeout", "upstreamTimeouts: {send: 0s}", "upstreamTimeouts.send: must be > 0"},
		{"not a duration", "server: {idleTimeout: soon}", `"soon" is not a duration`},
		{"unknown key", "server: {readTimeoutt: 1s}", "unknown key server.readTimeoutt"},
		{"unknown upstream key", "upstreamTimeouts: {connect: 1s}", "unknown key upstreamTimeouts.connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse([]byte(minimal+tt.yaml), func(string) (string, bool) { return "", false })
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
			if tt.name == "defaults" && (!reflect.DeepEqual(c.Server, config.Default().Server) || c.UpstreamTimeouts != config.Default().UpstreamTimeouts) {
				t.Errorf("defaults not applied: %+v %+v", c.Server, c.UpstreamTimeouts)
			}
		})
	}
}
