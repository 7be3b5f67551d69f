package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// A session kind is what the benchmark's sessions hold: tiny ({"n":1},
// made by the upstream's /write) or a signed-in user (about 250 bytes of
// JSON, made by its /login).
type sessionKind string

const (
	tinySessions sessionKind = "tiny"
	userSessions sessionKind = "user"
)

// path is the upstream path that starts a session of kind k.
func (k sessionKind) path() string {
	if k == userSessions {
		return "/login"
	}
	return "/write"
}

// The mix scenario's traffic: mixSessions sessions whose popularity
// follows Zipf's law with exponent mixZipfS (rank k is asked for in
// proportion to 1/k^s: a few hot users, a long tail), mixWrites of the
// requests writes. The numbers a site's access log typically shows.
const (
	mixSessions = 100_000
	mixZipfS    = 1.0
	mixWrites   = 0.10
	// mixSequence is how many requests one generated sequence holds;
	// each wrk thread starts at its own random place in it, and wraps.
	mixSequence = 1 << 18
)

// zipf draws ranks 1..n with P(k) proportional to 1/k^s (any s >= 0;
// math/rand's Zipf needs s > 1).
type zipf struct {
	cdf []float64 // cdf[k-1] = P(rank <= k)
}

func newZipf(n int, s float64) *zipf {
	z := &zipf{cdf: make([]float64, n)}
	var sum float64
	for k := 1; k <= n; k++ {
		sum += 1 / math.Pow(float64(k), s)
		z.cdf[k-1] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

// rank draws a rank, 1..n.
func (z *zipf) rank(r *rand.Rand) int {
	u := r.Float64()
	return sort.SearchFloat64s(z.cdf, u) + 1 // the first k with P(rank <= k) >= u
}

// mixRequests returns count requests of the mix: each a session's rank
// (1..n), negative for a write. The same seed gives the same requests.
func mixRequests(n, count int, s, writes float64, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x5e55))
	z := newZipf(n, s)
	out := make([]int, count)
	for i := range out {
		out[i] = z.rank(r)
		if r.Float64() < writes {
			out[i] = -out[i]
		}
	}
	return out
}

// writeLines writes one string per line to path.
func writeLines[T any](path string, lines []T) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// luaSessions is a wrk script's prologue: it numbers the threads, and
// its load reads the Cookie headers from a file, one a line (a Lua
// function holds at most 65,536 constants, fewer than mix's sessions).
// The scripts build every request once, in init: formatting one per
// request made garbage whose collection, marking tables of 100,000
// cookies each time, kept wrk's CPU busier than the proxy's.
const luaSessions = `local cookies = %q
local threads, n = %d, 0
function setup(thread)
  thread:set("index", n)
  n = n + 1
end
function load()
  local sessions = {}
  for line in io.lines(cookies) do
    sessions[#sessions + 1] = line
  end
  return sessions
end
-- head returns the request up to its Cookie header, as wrk.format
-- would write it: the one concatenation per request that remains.
function head(path)
  return (string.gsub(wrk.format("GET", path), "\r\n\r\n$", "\r\nCookie: "))
end
`

// writeScript writes a wrk script that sends each request with the next
// of sessions' cookies, each wrk thread using its own share of them, so
// that no two requests in flight carry the same session.
func writeScript(dir, name string, sessions []string, threads int) (string, error) {
	cookies := filepath.Join(dir, fileName("cookies-"+name+".txt"))
	if err := writeLines(cookies, sessions); err != nil {
		return "", err
	}
	script := fmt.Sprintf(luaSessions, cookies, threads) + `function init(args)
  local sessions = load()
  local per = math.floor(#sessions / threads)
  local h = head(wrk.path)
  reqs = {}
  for k = index * per + 1, (index + 1) * per do
    reqs[#reqs + 1] = h .. sessions[k] .. "\r\n\r\n"
  end
  if #reqs == 0 then
    reqs[1] = wrk.format()
  end
  i = 0
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
`
	path := filepath.Join(dir, fileName("cycle-"+name+".lua"))
	return path, os.WriteFile(path, []byte(script), 0o600)
}

// writeMixScript writes a wrk script of the mix scenario over sessions'
// cookies (rank k is sessions[k-1]): reads of / and writes of /write, in
// the order of mixRequests, each thread from its own random place in it.
//
// With browser, the clients follow Set-Cookie, as browsers do: a write's
// response carries its session's new cookie (the upstream echoes ?u= as
// X-Bench-User, since wrk's response callback does not know its request),
// and that session's later requests send it. Each session then belongs to
// one thread, which sends its requests and alone keeps its cookie; wrk
// keeps one header of a name, so a mode must set one cookie per response.
func writeMixScript(dir, name string, sessions []string, threads int, seed uint64, browser bool) (string, error) {
	cookies := filepath.Join(dir, fileName("cookies-"+name+".txt"))
	if err := writeLines(cookies, sessions); err != nil {
		return "", err
	}
	seq := filepath.Join(dir, fileName("mix-"+name+".txt"))
	if err := writeLines(seq, mixRequests(len(sessions), mixSequence, mixZipfS, mixWrites, seed)); err != nil {
		return "", err
	}
	script := fmt.Sprintf(luaSessions, cookies, threads) + fmt.Sprintf(mixLua, browser, seq)
	if browser {
		script += `function response(status, headers, body)
  local k, c = tonumber(headers["X-Bench-User"]), headers["Set-Cookie"]
  if k and c and writes[k] then
    local cookie = string.match(c, "^[^;]*")
    reads[k] = r .. cookie .. "\r\n\r\n"
    writes[k] = w[k] .. cookie .. "\r\n\r\n"
  end
end
`
	}
	path := filepath.Join(dir, fileName("mix-"+name+".lua"))
	return path, os.WriteFile(path, []byte(script), 0o600)
}

// mixLua is the mix's init and request, after luaSessions; its formatting
// verbs take whether the clients follow Set-Cookie, and the sequence's file. With
// browser, a thread keeps only its own sessions' requests and the
// requests of its sessions in the sequence.
const mixLua = `local browser = %t
function init(args)
  local sessions = load()
  r, w = head("/"), {}
  local shared = head("/write")
  reads, writes = {}, {}
  for k = 1, #sessions do
    if not browser then
      w[k] = shared
    elseif (k - 1) %% threads == index then
      w[k] = head("/write?u=" .. k)
    end
    if w[k] then
      reads[k] = r .. sessions[k] .. "\r\n\r\n"
      writes[k] = w[k] .. sessions[k] .. "\r\n\r\n"
    end
  end
  seq = {}
  for line in io.lines(%q) do
    local k = tonumber(line)
    if reads[math.abs(k)] then
      seq[#seq + 1] = k
    end
  end
  math.randomseed(os.time() * 16 + index)
  i = math.random(#seq)
end
function request()
  i = i %% #seq + 1
  local k = seq[i]
  if k < 0 then
    return writes[-k]
  end
  return reads[k]
end
`
