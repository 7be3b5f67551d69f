// Command example is koa-session's "full application example" as a Go
// upstream of sessionproxy: it never sees a cookie, only the session the
// middleware gives it.
//
//	UPSTREAM_SECRET=... go run ./example -port 8080   # then sessionproxy in front
//
// With token.alg EdDSA or ES256, give it the proxy's JWKS instead of the
// secret, and the audience its tokens must carry, if any:
//
//	UPSTREAM_JWKS_URL=http://127.0.0.1:9090/.well-known/jwks.json UPSTREAM_AUDIENCE=web go run ./example
//
// Routes: /set stores a user, /get returns it (204 when there is none),
// /destroy and /renew end or renew the session (koa-session's example);
// /login?name=N sets the user and renews, /put?key=K&value=V changes one
// key (&ms=M waits first, so that two requests of one session can
// overlap), /whoami shows the session id, whether it is new, and the data.
// With the proxy's session.userKey set to user.id: /signin?id=U sets
// the user {"id": U} and renews, /logout-others logs the user out of
// their other sessions ("log out my other devices"), /logout-all out of
// every one, this included ("log out everywhere").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	sessionproxy "github.com/sessionproxy/sessionproxy/sdk/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port to listen on (0: any free port)")
	flag.Parse()

	sessions, err := sessionproxy.New(sessionproxy.Options{
		Secret:   os.Getenv("UPSTREAM_SECRET"),
		JWKSURL:  os.Getenv("UPSTREAM_JWKS_URL"),
		Audience: os.Getenv("UPSTREAM_AUDIENCE"),
		Header:   os.Getenv("UPSTREAM_HEADER"), // the proxy's token.header; default X-Session
	})
	if err != nil {
		return fmt.Errorf("UPSTREAM_SECRET or UPSTREAM_JWKS_URL: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Set("user", map[string]any{"name": "john doe", "age": 30}), "session set")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		user := sessionproxy.FromRequest(r).Get("user")
		if user == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, user)
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Destroy(), "session destroyed")
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Renew(), "session renewed")
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		err := s.Set("user", map[string]any{"name": r.URL.Query().Get("name"), "age": 30})
		if err == nil {
			err = s.Renew() // a new id after a login, against session fixation
		}
		change(w, err, "logged in")
	})
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		err := s.Set("user", map[string]any{"id": r.URL.Query().Get("id")})
		if err == nil {
			err = s.Renew()
		}
		change(w, err, "logged in")
	})
	mux.HandleFunc("GET /logout-others", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).DestroyOthers(), "other sessions destroyed")
	})
	mux.HandleFunc("GET /logout-all", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).DestroyAll(), "all sessions destroyed")
	})
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ms, _ := strconv.Atoi(q.Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		change(w, sessionproxy.FromRequest(r).Set(q.Get("key"), q.Get("value")), "session changed")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		var sid any // null when the proxy sent none
		if s.ID() != "" {
			sid = s.ID()
		}
		data := map[string]any{}
		for _, k := range s.Keys() {
			data[k] = s.Get(k)
		}
		writeJSON(w, map[string]any{"sid": sid, "new": s.IsNew(), "session": data})
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sessions.Handler(mux), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// change answers a session change: body, or the change's error.
func change(w http.ResponseWriter, err error, body string) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprint(w, body)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
