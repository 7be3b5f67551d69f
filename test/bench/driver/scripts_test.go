package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
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
	path, err := writeMixScript(dir, "secure-mix", sessions, 2, 7)
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
