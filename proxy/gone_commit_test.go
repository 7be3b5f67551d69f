package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// slowStore is a store whose deletes take 300 ms and honour ctx, as a
// Redis does (redisstore checks ctx before queuing a command).
type slowStore struct{ session.Store }

func (s slowStore) Delete(ctx context.Context, id string) error {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Delete(ctx, id)
}

// A logout an upstream answers before it has read the whole upload (full
// duplex, over HTTP/2 from the client): the client leaves while the
// store applies it, and the commit under way is not cut.
func TestACommitUnderWayIsNotCutByTheClientLeaving(t *testing.T) {
	answered := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			w.Header().Set("X-Session-Set", `{"user":"u1"}`)
		case "/logout":
			http.NewResponseController(w).EnableFullDuplex()
			w.Header().Set("X-Session-Destroy", "true")
			w.(http.Flusher).Flush()
			close(answered)
		}
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	sm, _ := session.New(session.Options{Keys: []string{"key-0123456789abcdef0123456789abcdef"}, Store: slowStore{session.NewMemoryStore(session.MemoryOptions{})}})
	var log collectedLog
	p, _ := New(Options{Upstream: u, Sessions: sm, TokenSecret: []byte(testSecret), AccessLog: &log})
	srv := httptest.NewUnstartedServer(p)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]

	pr, pw := io.Pipe()
	go pw.Write([]byte("part of a form")) // a slow client: the rest is still to come
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/logout", pr)
	req.Header.Set("Cookie", cookie)
	go func() { <-answered; time.Sleep(100 * time.Millisecond); cancel() }()
	if _, err := c.Do(req); err == nil {
		t.Fatal("the request was not canceled")
	}
	time.Sleep(500 * time.Millisecond)
	req2, _ := http.NewRequest("GET", srv.URL+"/check", nil)
	req2.Header.Set("Cookie", cookie)
	var isNew bool
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { isNew = claimsOf(t, r).New })
	resp, err = c.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !isNew {
		t.Error("the logout the upstream answered was not applied: the session still opens")
	}
}
