package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionproxy/sessionproxy/internal/testenv"
)

// The mix's requests follow Zipf's law over the sessions, and a tenth
// of them write: what the scenario claims to measure.
func TestMixRequests(t *testing.T) {
	const n, count = 100_000, 200_000
	reqs := mixRequests(n, count, 1.0, 0.10, 1)
	if len(reqs) != count {
		t.Fatalf("%d requests, want %d", len(reqs), count)
	}
	counts := make([]int, n+1)
	writes := 0
	for _, k := range reqs {
		if k < 0 {
			writes++
			k = -k
		}
		if k < 1 || k > n {
			t.Fatalf("rank %d outside 1..%d", k, n)
		}
		counts[k]++
	}
	if share := float64(writes) / count; math.Abs(share-0.10) > 0.005 {
		t.Errorf("writes are %.3f of the requests, want 0.10", share)
	}
	// With s = 1, P(k) = 1/(k H_n), H_n the n-th harmonic number.
	var h float64
	for k := 1; k <= n; k++ {
		h += 1 / float64(k)
	}
	for _, k := range []int{1, 2, 10} {
		want := count / (float64(k) * h)
		if got := float64(counts[k]); math.Abs(got-want) > 5*math.Sqrt(want) {
			t.Errorf("rank %d asked for %v times, want about %.0f", k, got, want)
		}
	}
	// A long tail: the 8,192 most popular (what the verified-cookie
	// cache holds) get about ln(8192)/ln(n) of the requests, not all.
	hot := 0
	for k := 1; k <= 8192; k++ {
		hot += counts[k]
	}
	if share := float64(hot) / count; share < 0.70 || share > 0.85 {
		t.Errorf("the 8,192 hottest sessions get %.2f of the requests, want about 0.78", share)
	}
	distinct := 0
	for _, c := range counts {
		if c > 0 {
			distinct++
		}
	}
	if distinct < n/3 {
		t.Errorf("%d distinct sessions asked for, want a long tail of many", distinct)
	}
	if !slices.Equal(reqs, mixRequests(n, count, 1.0, 0.10, 1)) {
		t.Error("the same seed gave other requests")
	}
}

func TestZipfRanks(t *testing.T) {
	z := newZipf(3, 0) // s = 0: uniform
	if got := z.cdf; math.Abs(got[0]-1.0/3) > 1e-12 || math.Abs(got[1]-2.0/3) > 1e-12 || got[2] != 1 {
		t.Errorf("cdf = %v, want 1/3 2/3 1", got)
	}
}

// The scripts read their cookies and requests from files, one a line,
// which wrk's Lua reads back: check what they point at.
func TestWriteScripts(t *testing.T) {
	dir := t.TempDir()
	sessions := []string{"koa.sess=a; koa.sess.sig=x", "koa.sess=b; koa.sess.sig=y", "koa.sess=c; koa.sess.sig=z"}
	path, err := writeMixScript(dir, "secure-mix", sessions, 2, 7, false)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		strconv.Quote(filepath.Join(dir, "cookies-secure-mix.txt")),
		strconv.Quote(filepath.Join(dir, "mix-secure-mix.txt")),
		`head("/write")`, "local threads, n = 2, 0",
	} {
		if !strings.Contains(string(script), want) {
			t.Errorf("script lacks %s:\n%s", want, script)
		}
	}
	cookies, _ := os.ReadFile(filepath.Join(dir, "cookies-secure-mix.txt"))
	if got := strings.Split(strings.TrimSuffix(string(cookies), "\n"), "\n"); !slices.Equal(got, sessions) {
		t.Errorf("cookies file = %q, want %q", got, sessions)
	}
	seq, _ := os.ReadFile(filepath.Join(dir, "mix-secure-mix.txt"))
	lines := strings.Fields(string(seq))
	if len(lines) != mixSequence {
		t.Errorf("%d requests in the sequence, want %d", len(lines), mixSequence)
	}
	for _, l := range lines[:100] {
		if k, err := strconv.Atoi(l); err != nil || k == 0 || k < -3 || k > 3 {
			t.Fatalf("sequence line %q: want a rank of 1..3, negative for a write", l)
		}
	}

	path, err = writeScript(dir, "bare-read-many", nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if script, _ := os.ReadFile(path); !strings.Contains(string(script), "reqs[1] = wrk.format()") {
		t.Errorf("a script without sessions must send plain requests:\n%s", script)
	}
}

// The mix's wrk script, run by wrk against a server that issues a new
// cookie on every write: with browser, a session's requests after a write
// send the cookie it set (nearly all: a request already in flight on
// another connection sends the one before); without, every request sends
// its session's first.
func TestMixScriptFollowsSetCookie(t *testing.T) {
	wrk := testenv.RequireTool(t, "wrk")
	for _, browser := range []bool{true, false} {
		t.Run(fmt.Sprintf("browser=%v", browser), func(t *testing.T) {
			const n = 1000
			sessions := make([]string, n)
			for k := range sessions {
				sessions[k] = fmt.Sprintf("koa.sess=u%dv0", k+1)
			}
			var mu sync.Mutex
			latest := make([]int, n+1) // the version each session's last write set
			var current, stale, adopted, writes, foreign int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var k, v int
				c, err := r.Cookie("koa.sess")
				if err == nil {
					_, err = fmt.Sscanf(c.Value, "u%dv%d", &k, &v)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil || k < 1 || k > n || v > latest[k] {
					foreign++
					return
				}
				if v == latest[k] {
					current++
				} else {
					stale++
				}
				if v > 0 {
					adopted++ // a cookie a write set
				}
				if r.URL.Path == "/write" {
					writes++
					latest[k]++
					if u := r.URL.Query().Get("u"); u != "" {
						w.Header().Set("X-Bench-User", u)
					}
					w.Header().Set("Set-Cookie", fmt.Sprintf("koa.sess=u%dv%d; path=/; httponly", k, latest[k]))
				}
			}))
			defer srv.Close()

			script, err := writeMixScript(t.TempDir(), "test", sessions, 2, 1, browser)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, wrk, "-t2", "-c4", "-d1s", "-s", script, srv.URL)
			testenv.DieWithParent(cmd)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}

			mu.Lock()
			defer mu.Unlock()
			total := current + stale
			t.Logf("%d requests, %d writes: %d with the session's latest cookie, %d with an older one", total, writes, current, stale)
			if foreign > 0 || total < 1000 || writes < total/20 {
				t.Fatalf("%d requests (%d of no session of the script's), %d writes: want 1000 or more, about a tenth writes", total, foreign, writes)
			}
			if browser && current < total*9/10 {
				t.Errorf("%d of %d requests sent the cookie their session's last write set; want nine in ten or more", current, total)
			}
			if !browser && adopted > 0 {
				t.Errorf("%d of %d requests sent a cookie a write set, though the clients keep their first", adopted, total)
			}
		})
	}
}
