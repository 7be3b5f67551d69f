package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// The upstream's answer is the app's decision: a logout or a change
// answered after the client has gone (a closed tab) is still committed,
// as koa-session commits it in the app's own process.
func TestDirectivesAreCommittedAfterTheClientLeaves(t *testing.T) {
	for _, tc := range []struct {
		name, header, value string
		check               func(t *testing.T, claims *Claims)
	}{
		{"destroy", "X-Session-Destroy", "true", func(t *testing.T, c *Claims) {
			if !c.New {
				t.Errorf("the session the upstream destroyed still opens: %s", c.Sess)
			}
		}},
		{"set", "X-Session-Set", `{"theme":"dark"}`, func(t *testing.T, c *Claims) {
			if !strings.Contains(string(c.Sess), `"theme":"dark"`) {
				t.Errorf("the change answered after the client left was lost: %s", c.Sess)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived, answered := make(chan struct{}), make(chan struct{})
			claims := make(chan *Claims, 1)
			srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/login":
					w.Header().Set("X-Session-Set", `{"user":"u1"}`)
				case "/slow":
					close(arrived)
					time.Sleep(300 * time.Millisecond) // the client gives up meanwhile
					w.Header().Set(tc.header, tc.value)
					close(answered)
				case "/read":
					claims <- claimsOf(t, r)
				}
			}), nil, func(o *session.Options) {
				o.Store = session.NewMemoryStore(session.MemoryOptions{})
			})
			resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/login", nil))
			cookie := resp.Header.Get("Set-Cookie")
			cookie = cookie[:strings.IndexByte(cookie, ';')]

			ctx, cancel := context.WithCancel(t.Context())
			req := mustRequest(t, "GET", srv.URL+"/slow", nil).WithContext(ctx)
			req.Header.Set("Cookie", cookie)
			go func() { <-arrived; cancel() }()
			if _, err := http.DefaultClient.Do(req); err == nil {
				t.Fatal("the request was not canceled")
			}
			<-answered
			time.Sleep(100 * time.Millisecond) // the proxy commits after the upstream's answer

			req = mustRequest(t, "GET", srv.URL+"/read", nil)
			req.Header.Set("Cookie", cookie)
			do(t, req)
			tc.check(t, <-claims)
		})
	}
}

// Once the answer is committed, the client leaving ends the request to
// the upstream, as before: a stream nobody reads is not kept open. A
// request whose client left before the answer is logged as 499.
func TestTheClientLeavingEndsAStreamAndLogs499(t *testing.T) {
	var log collectedLog
	streaming, ended := make(chan struct{}), make(chan error, 1)
	arrived := make(chan struct{})
	srv := newEdgeProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			close(streaming)
			select {
			case <-r.Context().Done():
				ended <- nil
			case <-time.After(10 * time.Second):
				ended <- errors.New("the upstream request outlived its client by 10 s")
			}
		case "/slow":
			close(arrived)
			time.Sleep(200 * time.Millisecond)
		}
	}), func(o *Options) { o.AccessLog = &log }, nil)

	ctx, cancel := context.WithCancel(t.Context())
	resp, err := http.DefaultClient.Do(mustRequest(t, "GET", srv.URL+"/stream", nil).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	<-streaming
	cancel()
	resp.Body.Close()
	if err := <-ended; err != nil {
		t.Error(err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if _, err := http.DefaultClient.Do(mustRequest(t, "GET", srv.URL+"/slow", nil).WithContext(ctx)); err == nil {
		t.Fatal("the request was not canceled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(log.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	es := log.all()
	if len(es) != 2 || es[1].Path != "/slow" || es[1].Status != statusClientClosed {
		t.Errorf("access log %+v, want /slow's line last with status 499", es)
	}
}
