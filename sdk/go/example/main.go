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
// Routes: /set stores a user, /get returns it (204 when there is none;
// /get?key=K returns key K),
// /destroy and /renew end or renew the session, /put?key=K&value=V changes
// one key, /id shows the session id. Any route takes ?ms=N to wait N ms
// before answering.
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
	})
	if err != nil {
		return fmt.Errorf("UPSTREAM_SECRET or UPSTREAM_JWKS_URL: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Set("user", map[string]any{"name": "john doe", "age": 30}), "session set")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		if key == "" {
			key = "user"
		}
		v := sessionproxy.FromRequest(r).Get(key)
		if v == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Destroy(), "session destroyed")
	})
	mux.HandleFunc("GET /renew", func(w http.ResponseWriter, r *http.Request) {
		change(w, sessionproxy.FromRequest(r).Renew(), "session renewed")
	})
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		change(w, sessionproxy.FromRequest(r).Set(q.Get("key"), q.Get("value")), "session changed")
	})
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
		s := sessionproxy.FromRequest(r)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": s.ID(), "new": s.IsNew()})
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sessions.Handler(delay(mux)), ReadHeaderTimeout: 10 * time.Second}
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

// delay waits ?ms=N milliseconds before the route runs, so that tests can
// hold requests of one session in flight together.
func delay(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms > 0 {
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
