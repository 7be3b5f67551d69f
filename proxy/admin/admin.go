// Package admin serves the operator's session API on the admin listener:
// listing a user's sessions and ending them, for "log out everywhere"
// from a support console and for revoking a stolen session.
//
//	GET    /sessions?user=ID    the user's sessions: an opaque handle, created, last used, expires
//	DELETE /sessions?user=ID    end them all; answers how many
//	DELETE /sessions/HANDLE     end one
//
// Answers and errors are JSON ({"error": "..."}): 400 for bad input, 401
// without the token, 403 without a token configured to a request
// addressed to a host name or a DELETE a browser sent from another
// origin (see api.auth), 404 for an unknown handle or a path under /sessions/
// that is none of the above, 405 for another method, 503 when the store
// cannot be reached. The session id itself never appears: a handle is of no use
// as a cookie.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessionproxy/sessionproxy/session"
)

// Options configures the session API.
type Options struct {
	// Sessions is the Manager whose user index the API reads. Required.
	Sessions *session.Manager
	// Token, when set, is required as "Authorization: Bearer <Token>".
	Token string
	// Logger receives a line per session ended. Default: discard.
	Logger *slog.Logger
}

// Register adds the session API's routes to mux.
func Register(mux *http.ServeMux, o Options) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{opts: o, crossOrigin: http.NewCrossOriginProtection()}
	if o.Token != "" {
		sum := sha256.Sum256([]byte(o.Token))
		a.token = sum[:]
	}
	mux.HandleFunc("GET /sessions", a.auth(a.list))
	mux.HandleFunc("DELETE /sessions", a.auth(a.endUser))
	mux.HandleFunc("DELETE /sessions/{handle}", a.auth(a.endHandle))
	// Other methods get the API's JSON errors too, not the mux's text.
	mux.HandleFunc("/sessions", notAllowed("GET, HEAD, DELETE"))
	mux.HandleFunc("/sessions/{handle}", notAllowed("DELETE"))
	// Paths under /sessions/ that name no handle ("/sessions/",
	// "/sessions/a/b") are no route of the API: its JSON 404.
	mux.HandleFunc("/sessions/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such path: the session API is /sessions?user=ID and /sessions/HANDLE")
	})
}

// notAllowed answers a method the route does not take: 405, naming the
// ones it does in Allow.
func notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here: use "+allow)
	}
}

type api struct {
	opts        Options
	token       []byte // SHA-256 of Options.Token; nil: none required
	crossOrigin *http.CrossOriginProtection
}

// auth answers 401 unless the request carries the token. The tokens are
// compared as SHA-256 sums, in constant time, so that neither their bytes
// nor their length leak through the timing.
//
// Without a token (a loopback listener), any program on the machine may
// use the API, but a web page in a browser there must not. So it answers
// 403 to a request addressed to a host name other than localhost: a page
// whose name was rebound to 127.0.0.1 (DNS rebinding) reaches the
// listener as its own origin, and names itself in Host. And it answers
// 403 to a DELETE that a browser sent from another origin (CSRF: a page
// on any site can send one to http://127.0.0.1:9090 without reading the
// answer), as net/http's CrossOriginProtection tells them: Sec-Fetch-Site
// other than same-origin or none, or else an Origin that is not the
// Host. Clients that are not browsers (curl, scripts) send neither. With
// a token a page cannot forge, the token is the check.
func (a *api) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.token == nil && !addressedDirectly(r.Host) {
			writeError(w, http.StatusForbidden, "without admin.token, the session API answers only requests to localhost or an IP address")
			return
		}
		if a.token == nil && a.crossOrigin.Check(r) != nil {
			writeError(w, http.StatusForbidden, crossOriginRefusal(r))
			return
		}
		if a.token != nil {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if !ok || subtle.ConstantTimeCompare(sum[:], a.token) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sessionproxy admin"`)
				writeError(w, http.StatusUnauthorized, "a valid Authorization: Bearer <admin.token> header is required")
				return
			}
		}
		if !a.opts.Sessions.HasUserIndex() {
			writeError(w, http.StatusNotFound, "sessions are not indexed by user: set session.userKey")
			return
		}
		next(w, r)
	}
}

// crossOriginRefusal says why a tokenless request was taken for a
// browser's cross-origin one, naming the header that told.
func crossOriginRefusal(r *http.Request) string {
	why := "its Origin " + strconv.Quote(r.Header.Get("Origin")) + " is not its Host " + strconv.Quote(r.Host)
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		why = "the browser marked it Sec-Fetch-Site: " + site
	}
	return r.Method + " from another origin (" + why + "): without admin.token, the session API takes changes only from programs that are not browsers (curl, scripts) or from its own origin; set admin.token to use it from a web page"
}

// addressedDirectly reports whether host, a request's Host, is localhost
// or an IP address, with or without a port.
func addressedDirectly(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

// sessionJSON is one session in a listing.
type sessionJSON struct {
	Handle   string    `json:"handle"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed"`
	Expires  time.Time `json:"expires,omitzero"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	user, ok := userParam(w, r)
	if !ok {
		return
	}
	infos, err := a.opts.Sessions.UserSessions(r.Context(), user)
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]sessionJSON, 0, len(infos))
	for _, i := range infos {
		out = append(out, sessionJSON{Handle: i.Handle, Created: i.Created.UTC(), LastUsed: i.LastUsed.UTC(), Expires: i.Expires.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "sessions": out})
}

func (a *api) endUser(w http.ResponseWriter, r *http.Request) {
	user, ok := userParam(w, r)
	if !ok {
		return
	}
	n, err := a.opts.Sessions.EndUser(r.Context(), user)
	if err != nil {
		a.storeError(w, err)
		return
	}
	a.opts.Logger.Info("admin: ended a user's sessions", "sessions", n)
	writeJSON(w, http.StatusOK, map[string]int{"ended": n})
}

func (a *api) endHandle(w http.ResponseWriter, r *http.Request) {
	err := a.opts.Sessions.EndHandle(r.Context(), r.PathValue("handle"))
	switch {
	case errors.Is(err, session.ErrBadHandle):
		writeError(w, http.StatusBadRequest, "not a session handle: use one that GET /sessions?user=ID listed")
	case errors.Is(err, session.ErrUnknownHandle):
		writeError(w, http.StatusNotFound, "no live session has this handle")
	case err != nil:
		a.storeError(w, err)
	default:
		a.opts.Logger.Info("admin: ended a session", "sessions", 1)
		writeJSON(w, http.StatusOK, map[string]int{"ended": 1})
	}
}

// userParam returns the user query parameter, or answers 400.
func userParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	user := r.URL.Query().Get("user")
	if user == "" {
		writeError(w, http.StatusBadRequest, "the user query parameter is required: /sessions?user=ID")
		return "", false
	}
	return user, true
}

// storeError answers 503 for a store that could not be reached, and
// logs the cause, which the answer does not show.
func (a *api) storeError(w http.ResponseWriter, err error) {
	a.opts.Logger.Error("admin: session store", "error", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "the session store cannot be reached, retry shortly")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
