// Command driver is sessionproxy's load benchmark (test/bench/run.sh runs
// it). On 127.0.0.1 only, it builds and starts a trivial upstream, a bare
// httputil.ReverseProxy with sessionproxy's Transport (the limit), and
// sessionproxy in each mode; drives each with wrk in interleaved rounds;
// and prints the medians and each mode's ratio to the bare proxy measured
// in the same run. Every process it starts is stopped by its PID.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Secrets of the benchmark's configs; nothing real.
const (
	benchKey    = "bench-key-0123456789abcdef0123456789abcdef"
	benchSecret = "bench-upstream-secret-0123456789abcdef"
)

// A mode is one sessionproxy configuration under test.
type mode struct {
	name   string
	config string // the YAML after listen/upstream/keys/token/admin
	redis  bool   // needs redis-server
	// key is the -genkey kind of the token signing key (token.alg EdDSA
	// or ES256); "" signs HS256 with the secret.
	key string
	// env is added to the proxy's environment: a mode named
	// "secure+GOGC=400" is secure with GOGC=400, to compare runtime
	// settings in one run.
	env []string
	// build, from "+GOFLAGS=...", "+GOAMD64=..." or "+GOEXPERIMENT=..."
	// in its name, is the environment the mode's binary is built with:
	// "secure+GOFLAGS=-pgo=/tmp/cpu.pprof" is secure built with that
	// profile (profile-guided optimization), "secure+GOAMD64=v3" secure
	// built for x86-64-v3 CPUs. The bare proxy is always built without.
	build []string
}

// buildKey names m's binary among the run's builds: its build settings.
func (m mode) buildKey() string { return strings.Join(m.build, " ") }

// buildVars are the settings of a mode's name that go to go build, not
// to the running proxy.
var buildVars = []string{"GOFLAGS", "GOAMD64", "GOEXPERIMENT"}

// pickModes returns the modes of names, in their order: each a mode of
// allModes, optionally followed by "+VAR=value" settings of its
// environment.
func pickModes(names []string) ([]mode, error) {
	var out []mode
	for _, name := range names {
		base, env, _ := strings.Cut(name, "+")
		i := slices.IndexFunc(allModes, func(m mode) bool { return m.name == base })
		if i < 0 {
			return nil, fmt.Errorf("-modes: unknown mode %q", base)
		}
		m := allModes[i]
		m.name = name
		if env != "" {
			for kv := range strings.SplitSeq(env, "+") {
				k, _, ok := strings.Cut(kv, "=")
				switch {
				case !ok || k == "":
					return nil, fmt.Errorf("-modes: %q: want VAR=value after +, got %q", name, kv)
				case slices.Contains(buildVars, k):
					m.build = append(m.build, kv)
				default:
					m.env = append(m.env, kv)
				}
			}
		}
		out = append(out, m)
	}
	return out, nil
}

var allModes = []mode{
	{name: "secure", config: "session:\n  format: secure\n"},
	// secure without the access log: what one line per request costs.
	{name: "secure-nolog", config: "session:\n  format: secure\nlog:\n  access: false\n"},
	{name: "koa", config: "session:\n  format: koa\n"},
	// Room for every scenario's sessions (mix's 100,000 and more), so
	// that none is dropped for space during a run.
	{name: "memory", config: "store:\n  type: memory\n  memory:\n    maxEntries: 1000000\n"},
	{name: "redis", config: "store:\n  type: redis\n  redis:\n    addrs: [\"%s\"]\n", redis: true},
	// secure with an asymmetric token key instead of HS256.
	{name: "eddsa", config: "session:\n  format: secure\n", key: "ed25519"},
	{name: "es256", config: "session:\n  format: secure\n", key: "p256"},
}

// A scenario is one kind of request.
type scenario struct {
	name string
	path string
	kind sessionKind // what its sessions hold ("" for no session)
	// How it uses its sessions: n == 1 sends one session's cookie every
	// time; n > 1 cycles through n sessions' cookies, each wrk thread
	// through its own share (see writeScript); with mix, n sessions of
	// Zipf popularity, a tenth of the requests writes (writeMixScript).
	n   int
	mix bool
	// browser: the mix's clients send the cookies they are sent, as
	// browsers do (writeMixScript).
	browser bool
}

var allScenarios = []scenario{
	{name: "new", path: "/"},                            // no cookie: a new session each request
	{name: "read", path: "/", kind: tinySessions, n: 1}, // one valid cookie, nothing changes
	// The upstream sets {"n":<counter>} every time. Each wrk connection
	// writes its own sessions: concurrent writes of one session would
	// measure the stores' conflict handling, not their throughput.
	{name: "write", path: "/write", kind: tinySessions, n: sessionsPerTarget},
	// A different returning session on nearly every request: more than
	// the verified-cookie cache holds (2 x 4096), each seen again only
	// after a second or more (so never a remembered token). The read
	// path without its per-session caches.
	{name: "read-many", path: "/", kind: tinySessions, n: manySessions},
	// The same with a signed-in user's session (about 250 bytes of JSON)
	// instead of {"n":1}.
	{name: "read-user", path: "/", kind: userSessions, n: 1},
	{name: "write-user", path: "/write", kind: userSessions, n: sessionsPerTarget},
	{name: "read-many-user", path: "/", kind: userSessions, n: manySessions},
	// A site's traffic: 100,000 signed-in users of Zipf popularity, 90 %
	// reads and 10 % writes.
	{name: "mix", path: "/", kind: userSessions, n: mixSessions, mix: true},
	// The same, with clients that follow Set-Cookie: after a write, its
	// session's requests send the cookie the write set.
	{name: "mix-browser", path: "/", kind: userSessions, n: mixSessions, mix: true, browser: true},
}

// sessionsPerTarget is how many sessions the write scenario spreads over.
const sessionsPerTarget = 64

// manySessions is how many sessions read-many spreads over.
const manySessions = 20_000

// target is a running proxy the benchmark drives.
type target struct {
	name        string
	url         string
	cookie      map[sessionKind]string // Cookie header of the one-cookie scenarios
	script      map[string]string      // wrk script of each scenario that has one, by name
	unavailable string                 // why the mode could not run ("" when it runs)
	proc        string                 // name of its process
	comm        string                 // its binary's name, which perf reports
	admin       string                 // sessionproxy's admin listener ("" for the others)
}

type options struct {
	duration  time.Duration
	rounds    int
	conns     int
	threads   int
	pin       bool
	cpu       bool
	gc        bool
	perf      bool
	keep      string
	pprof     string
	neighbour int
	busy      bool
	calibrate int
	token     int
	modes     []string
	scenarios []string
}

func main() {
	var o options
	var modes, scenarios string
	flag.DurationVar(&o.duration, "d", 2*time.Second, "duration of one wrk run (also the first argument)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds; the table shows medians")
	flag.IntVar(&o.conns, "c", 16, "wrk connections")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.BoolVar(&o.pin, "pin", true, "pin the proxies to the first allowed CPU and wrk, the upstream and redis to the others with taskset (needs 2+ CPUs)")
	flag.BoolVar(&o.cpu, "cpu", false, "after each run, print the CPU time per request of the proxy and how busy each core and process was")
	flag.BoolVar(&o.gc, "gc", false, "start the bare proxy and the modes with GODEBUG=gctrace=1 and print, after each run, the garbage collector's cycles and CPU time per request, read from their logs (a cycle whose line an access-log write cuts before its CPU times is missed)")
	flag.BoolVar(&o.perf, "perf", false, "record the proxy's CPU with perf during each run and print how much of it each kind of socket write takes, and how much of that is waking the reader (needs perf and pinning)")
	flag.StringVar(&o.pprof, "pprof", "", "take a CPU profile of each sessionproxy run from its admin listener into DIR, as ROUND-SCENARIO-MODE.pprof (go tool pprof -proto DIR/*.pprof merges them)")
	flag.IntVar(&o.neighbour, "neighbour", 0, "run test/bench/neighbour on the proxies' CPU at idle priority (normal with -neighbour-busy), walking this many MiB: other programs sharing the CPU's caches (needs pinning, and chrt for idle priority; 0: none)")
	flag.BoolVar(&o.busy, "neighbour-busy", false, "run -neighbour at normal priority: it takes its share of the proxies' CPU, and the proxy finds its caches cold after each of its turns")
	flag.IntVar(&o.calibrate, "calibrate", 0, "also run bare+work, the bare proxy hashing this many KiB (SHA-256) per request, paired with bare like the modes: what that much of a proxy's own CPU work (printed in µs) costs per request in this layout (0: not run)")
	flag.IntVar(&o.token, "calibrate-token", 0, "also run bare+token, the bare proxy sending the upstream an X-Session header of this many bytes instead of the client's Cookie header, paired with bare like the modes: what carrying a session's token (a signed-in user's is about 590 bytes) costs per request in this layout, with none of the work of making it (0: not run)")
	flag.StringVar(&o.keep, "keep", "", "work in DIR and keep it: the binaries, configs, every process's log (GODEBUG=gctrace=1 goes there) and, with -perf, each run's recording as ROUND-SCENARIO-TARGET.data for perf report")
	flag.StringVar(&modes, "modes", "secure,secure-nolog,koa,memory,redis,eddsa,es256", "sessionproxy modes; MODE+VAR=value runs MODE with VAR=value in its environment (secure,secure+GOGC=400 compares the two in one run), except GOFLAGS, GOAMD64 and GOEXPERIMENT, which build MODE's binary with them (secure,secure+GOFLAGS=-pgo=/tmp/cpu.pprof, secure,secure+GOAMD64=v3)")
	var pooled string
	flag.StringVar(&pooled, "pool", "", "run nothing: read the stderr of earlier runs made with -cpu (FILE,FILE,...) and print each scenario's and mode's CPU ratio to bare over all their rounds pooled, with each run's median")
	flag.StringVar(&scenarios, "scenarios", "new,read,write", "scenarios: new, read, write, and read-many (20,000 sessions), read-user, write-user, read-many-user (a signed-in user's session of about 250 bytes) mix (100,000 users of Zipf popularity, 10 % writes) and mix-browser (the same, with clients that follow Set-Cookie; not koa); those of many sessions are best run on their own: they fill the proxies' caches and heaps for the rounds after them")
	args := os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") { // run.sh DURATION [flags]
		d, err := time.ParseDuration(args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "duration %q: %v\n", args[0], err)
			os.Exit(2)
		}
		o.duration, args = d, args[1:]
	}
	_ = flag.CommandLine.Parse(args) // exits on error
	if pooled != "" {
		if err := pool(os.Stdout, strings.Split(pooled, ",")); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	o.modes = strings.Split(modes, ",")
	o.scenarios = strings.Split(scenarios, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (test/bench/run.sh installs it)")
	}
	var pin cpus
	if o.pin {
		allowed, err := allowedCPUs()
		_, lookErr := exec.LookPath("taskset")
		if pin = pinTo(allowed); err != nil || lookErr != nil || pin.proxy == "" {
			fmt.Fprintln(stderr, "bench: not pinning (needs taskset and 2+ CPUs)")
			pin = cpus{}
		}
	}
	if o.perf {
		if _, err := exec.LookPath("perf"); err != nil || pin.proxy == "" {
			return errors.New("-perf needs perf (Debian: linux-perf) and pinning (taskset, 2+ CPUs)")
		}
	}
	if o.busy && o.neighbour == 0 {
		return errors.New("-neighbour-busy needs -neighbour MB")
	}
	var scens []scenario
	for _, s := range allScenarios {
		if slices.Contains(o.scenarios, s.name) {
			scens = append(scens, s)
		}
	}
	modes, err := pickModes(o.modes)
	if err != nil {
		return err
	}
	for _, s := range scens {
		for _, m := range modes {
			if s.browser && strings.Contains(m.config, "format: koa") {
				return fmt.Errorf("scenario %s cannot run mode %s: its writes set two cookies, and wrk's response callback sees one header of a name", s.name, m.name)
			}
		}
	}

	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir := o.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sessionproxy-bench"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}
	procs := &processes{dir: dir}
	defer procs.stopAll()

	fmt.Fprintln(stderr, "bench: building")
	bins := map[string]string{}
	for name, pkg := range map[string]string{
		"sessionproxy": "./cmd/sessionproxy",
		"upstream":     "./test/bench/upstream",
		"bare":         "./test/bench/bare",
		"neighbour":    "./test/bench/neighbour",
	} {
		bins[name] = filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bins[name], pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	builds := map[string]string{"": bins["sessionproxy"]} // sessionproxy by build settings
	for _, m := range modes {
		key := m.buildKey()
		if _, ok := builds[key]; ok {
			continue
		}
		// Its own directory, so that the binary's name, which perf
		// reports, is the same.
		bin := filepath.Join(dir, fmt.Sprintf("build%d", len(builds)), "sessionproxy")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sessionproxy")
		cmd.Dir, cmd.Env = root, append(os.Environ(), m.build...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s go build ./cmd/sessionproxy: %w\n%s", key, err, out)
		}
		builds[key] = bin
	}

	upAddr := freeAddr()
	up, err := procs.start(ctx, "upstream", pin.load, bins["upstream"], "-listen", upAddr)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, up, "http://"+upAddr+"/"); err != nil {
		return err
	}
	upstream := "http://" + upAddr

	bareAddr := freeAddr()
	var targetEnv []string // the bare proxy's and the calibration's
	if o.gc {
		targetEnv = withGCTrace(nil)
	}
	bare, err := procs.startWith(ctx, "bare", pin.proxy, targetEnv, bins["bare"], "-listen", bareAddr, "-upstream", upstream)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, bare, "http://"+bareAddr+"/"); err != nil {
		return err
	}
	targets := []*target{{name: "bare", url: "http://" + bareAddr, proc: "bare", comm: "bare"}}

	redisAddr := ""
	for _, m := range modes {
		if m.redis {
			redisAddr, err = startRedis(ctx, procs, pin.load)
			if err != nil {
				fmt.Fprintln(stderr, "bench: redis:", err)
			}
			break
		}
	}
	for _, m := range modes {
		t := &target{name: m.name, proc: "sessionproxy-" + m.name, comm: "sessionproxy"}
		targets = append(targets, t)
		if m.redis && redisAddr == "" {
			t.unavailable = "redis-server not available"
			continue
		}
		cfg := m.config
		if m.redis {
			cfg = fmt.Sprintf(cfg, redisAddr)
		}
		tok, err := tokenConfig(ctx, bins["sessionproxy"], dir, m)
		if err == nil {
			env := m.env
			if o.gc {
				env = withGCTrace(env)
			}
			err = startProxy(ctx, procs, pin.proxy, builds[m.buildKey()], t, env, upstream, tok+cfg, o.pprof != "", o.threads, scens)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.unavailable = err.Error()
			fmt.Fprintf(stderr, "bench: %s unavailable: %v\n", m.name, err)
		}
	}

	for _, t := range targets[1:] { // bare+work and bare+token send the first mode's requests
		if t.unavailable == "" {
			targets[0].cookie, targets[0].script = t.cookie, t.script
			break
		}
	}
	if targets[0].script == nil {
		targets[0].script = map[string]string{}
		for _, s := range scens {
			if s.n > 1 {
				if targets[0].script[s.name], err = writeScript(dir, "bare-"+s.name, nil, o.threads); err != nil {
					return err
				}
			}
		}
	}

	if o.calibrate > 0 {
		t, err := startCalibration(ctx, procs, pin.proxy, targetEnv, bins["bare"], upstream, targets[0], "work", "-work", o.calibrate)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		fmt.Fprintf(stderr, "bench: %s is the bare proxy hashing %d KiB per request, %.1f µs of CPU measured here\n",
			t.name, o.calibrate, workMicros(o.calibrate))
	}
	if o.token > 0 {
		t, err := startCalibration(ctx, procs, pin.proxy, targetEnv, bins["bare"], upstream, targets[0], "token", "-token", o.token)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		fmt.Fprintf(stderr, "bench: %s is the bare proxy sending the upstream a %d-byte X-Session header instead of the Cookie header\n",
			t.name, o.token)
	}

	var running []*target // the targets that run beside bare
	for _, t := range targets[1:] {
		if t.unavailable == "" {
			running = append(running, t)
		}
	}
	runs := 3 * len(running) // each between two bare runs
	total := time.Duration(runs*len(scens)*o.rounds)*o.duration + time.Duration(len(running)+1)*time.Second
	fmt.Fprintf(stderr, "bench: %d modes and bare x %d scenarios x %d rounds x %v, about %v\n",
		len(running), len(scens), o.rounds, o.duration, total.Round(time.Second))

	if o.neighbour > 0 {
		if pin.proxy == "" {
			return errors.New("-neighbour needs pinning (taskset, 2+ CPUs)")
		}
		if _, err := exec.LookPath("chrt"); err != nil && !o.busy {
			return errors.New("-neighbour needs chrt (util-linux) to run at idle priority; -neighbour-busy does not")
		}
		argv := neighbourCommand(bins["neighbour"], o.neighbour, o.busy)
		if _, err := procs.start(ctx, "neighbour", pin.proxy, argv[0], argv[1:]...); err != nil {
			return err
		}
	}
	w := wrk{threads: o.threads, conns: o.conns, cpu: pin.load}
	for _, t := range targets { // warm up: connection pools, heap
		if t.unavailable == "" {
			if _, err := w.run(ctx, time.Second, t.url+"/", t.cookie[tinySessions], ""); err != nil {
				return fmt.Errorf("warm-up %s: %w", t.name, err)
			}
		}
	}
	results := map[string]map[string][]result{} // scenario -> target -> rounds
	for round := range o.rounds {
		for _, s := range scens {
			if results[s.name] == nil {
				results[s.name] = map[string][]result{}
			}
			order := runOrder(targets[0], running, round)
			done := make([]result, 0, len(order))
			for _, t := range order {
				cookie, script := "", ""
				if s.n == 1 {
					cookie = t.cookie[s.kind]
				} else if s.n > 1 {
					script = t.script[s.name]
				}
				var rec *recording
				if o.perf {
					file := filepath.Join(dir, "perf.data")
					if rec, err = startPerf(ctx, pin.proxy, pin.load, file, o.duration.Seconds()); err != nil {
						return err
					}
				}
				var prof *profiling
				if o.pprof != "" && t.admin != "" {
					prof = startProfile(ctx, t.admin, o.duration, filepath.Join(o.pprof, fileName(fmt.Sprintf("%d-%s-%s.pprof", round+1, s.name, t.name))))
				}
				var gcFrom int64
				if o.gc {
					if gcFrom, err = logSize(procs.logOf(t.proc)); err != nil {
						return err
					}
				}
				before := sampleCPU(procs)
				r, err := w.run(ctx, o.duration, t.url+s.path, cookie, script)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.name, t.name, err)
				}
				requests := r.rps * o.duration.Seconds()
				if prof != nil {
					if err := prof.wait(); err != nil {
						return fmt.Errorf("%s %s: %w", s.name, t.name, err)
					}
				}
				if rec != nil {
					keep := ""
					if o.keep != "" {
						keep = filepath.Join(dir, fileName(fmt.Sprintf("%d-%s-%s.data", round+1, s.name, t.name)))
					}
					ws, err := rec.shares(ctx, t.comm, keep)
					if err != nil {
						return fmt.Errorf("%s %s: %w", s.name, t.name, err)
					}
					fmt.Fprintf(stderr, "bench: perf  %d %-9s %-6s %v\n", round+1, s.name, t.name, ws)
				}
				cpu := ""
				if o.cpu {
					after := sampleCPU(procs)
					r.cpu = cpuPerRequest(before, after, t.proc, requests)
					cpu = " " + cpuReport(before, after, t.proc, requests)
				}
				if o.gc {
					g, err := readGCTrace(procs.logOf(t.proc), gcFrom)
					if err != nil {
						return err
					}
					if requests > 0 {
						r.gc = g.cpuMs * 1000 / requests
					}
					cpu += fmt.Sprintf(" gc %.2fµs/req in %d cycles", r.gc, g.cycles)
				}
				fmt.Fprintln(stderr, roundText(round+1, s.name, t.name, r, cpu))
				done = append(done, r)
				results[s.name][t.name] = append(results[s.name][t.name], r)
			}
			for i, base := range neighbours(done) {
				rs := results[s.name][order[3*i+1].name]
				rs[len(rs)-1].bare = &base
			}
		}
	}

	fmt.Fprintf(stdout, "wrk -t%d -c%d -d%v, %d interleaved rounds; medians, and ratios paired within rounds; pinned: %v\n\n",
		o.threads, o.conns, o.duration, o.rounds, pinning(pin))
	printTable(stdout, scens, targets, results)
	return nil
}

// roundText is the line run prints for one round of one target; extra
// is what -cpu and -gc add. -pool reads these lines back (roundLine).
func roundText(round int, scenario, target string, r result, extra string) string {
	return fmt.Sprintf("bench: round %d %-9s %-6s %8.0f req/s p50 %.3fms p99 %.3fms errors %d%s",
		round, scenario, target, r.rps, r.p50, r.p99, r.errors, extra)
}

// neighbourCommand is the command line of test/bench/neighbour walking
// mb MiB: at idle priority (SCHED_IDLE), so that it runs only while the
// proxy leaves its CPU idle, or with busy at normal priority, so that it
// takes turns with the proxy.
func neighbourCommand(bin string, mb int, busy bool) []string {
	argv := []string{bin, "-mb", strconv.Itoa(mb)}
	if busy {
		return argv
	}
	return append([]string{"chrt", "--idle", "0"}, argv...)
}

// runOrder returns the order of one scenario's runs in a round: each
// mode between two bare runs, the modes taking turns to go first. Each
// mode is then compared with the bare runs just before and just after it
// (neighbours), so that the machine speeding up or slowing down moves
// both sides of its ratio alike: here, two bare runs 12 s apart differed
// by 5 % in the median and by 25 % or more one time in ten. The bare
// runs around a mode send its own requests (bareFor): its cookies are
// the mode's, which differ in length from one format to another.
func runOrder(bare *target, modes []*target, round int) []*target {
	var order []*target
	for i := range modes {
		m := modes[(i+round)%len(modes)]
		b := bareFor(bare, m)
		order = append(order, b, m, b)
	}
	return order
}

// bareFor returns bare sending m's requests: m's cookies and scripts.
func bareFor(bare, m *target) *target {
	b := *bare
	b.cookie, b.script = m.cookie, m.script
	return &b
}

// neighbours returns, for each mode's result in done (the results of a
// runOrder, in order), the mean of the bare results around it.
func neighbours(done []result) []result {
	var out []result
	for i := 1; i+1 < len(done); i += 3 {
		out = append(out, mean(done[i-1], done[i+1]))
	}
	return out
}

func pinning(pin cpus) string {
	if pin.proxy == "" {
		return "no"
	}
	return fmt.Sprintf("proxies on CPU %s; wrk, upstream and redis on CPU %s", pin.proxy, pin.load)
}

// startCalibration starts a yardstick: the bare proxy with arg set to n
// (its -work or -token), named bare+what, under its own binary name so
// that perf tells it from bare, with bare's cookies and scripts.
func startCalibration(ctx context.Context, procs *processes, cpu string, env []string, bareBin, upstream string, bare *target, what, arg string, n int) (*target, error) {
	proc := "bare-" + what
	bin := bareBin + "-" + what
	b, err := os.ReadFile(bareBin)
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err != nil {
		return nil, err
	}
	addr := freeAddr()
	p, err := procs.startWith(ctx, proc, cpu, env, bin, "-listen", addr, "-upstream", upstream, arg, strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	t := &target{name: "bare+" + what, url: "http://" + addr, cookie: bare.cookie, script: bare.script, proc: proc, comm: proc}
	return t, waitHTTP(ctx, p, t.url+"/")
}

// workMicros is how long hashing kib KiB takes here, in µs: the
// calibration's work (test/bench/bare's -work), timed the same way.
func workMicros(kib int) float64 {
	var block [1024]byte
	var sum [sha256.Size]byte
	const n = 2000
	start := time.Now()
	for range n * kib {
		sum = sha256.Sum256(block[:])
	}
	block[0] = sum[0]
	return float64(time.Since(start).Microseconds()) / n
}

// startProxy checks and starts sessionproxy for t, and fetches session
// cookies from it for the scenarios: of each kind, as many as the
// scenario that needs the most.
func startProxy(ctx context.Context, procs *processes, cpu, bin string, t *target, env []string, upstream, modeConfig string, pprof bool, threads int, scens []scenario) error {
	addr, admin := freeAddr(), freeAddr()
	cfg := fmt.Sprintf("listen: %q\nupstream: %q\nkeys: [%q]\nadmin:\n  listen: %q\n  pprof: %v\n%s",
		addr, upstream, benchKey, admin, pprof, modeConfig)
	path := filepath.Join(procs.dir, fileName(t.name+".yaml"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, bin, "-check", "-config", path).CombinedOutput(); err != nil {
		return fmt.Errorf("-check: %s", firstLine(out))
	}
	p, err := procs.startWith(ctx, "sessionproxy-"+t.name, cpu, env, bin, "-config", path)
	if err != nil {
		return err
	}
	t.url, t.admin = "http://"+addr, admin
	if err := waitHTTP(ctx, p, t.url+"/"); err != nil {
		return err
	}
	need := map[sessionKind]int{tinySessions: 1} // the warm-up's cookie
	for _, s := range scens {
		if s.kind != "" {
			need[s.kind] = max(need[s.kind], s.n)
		}
	}
	t.cookie, t.script = map[sessionKind]string{}, map[string]string{}
	for _, kind := range []sessionKind{tinySessions, userSessions} {
		if need[kind] == 0 {
			continue
		}
		sessions, err := newSessions(ctx, t.url+kind.path(), need[kind])
		if err != nil {
			return err
		}
		t.cookie[kind] = sessions[0]
		for _, s := range scens {
			switch {
			case s.kind != kind || s.n <= 1:
			case s.mix:
				t.script[s.name], err = writeMixScript(procs.dir, t.name+"-"+s.name, sessions[:s.n], threads, 1, s.browser)
			default:
				t.script[s.name], err = writeScript(procs.dir, t.name+"-"+s.name, sessions[:s.n], threads)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// tokenConfig returns the token section of mode m's config: HS256 with
// the secret, or the alg of m.key with a key that `sessionproxy -genkey`
// writes into dir.
func tokenConfig(ctx context.Context, bin, dir string, m mode) (string, error) {
	if m.key == "" {
		return fmt.Sprintf("token:\n  secret: %q\n", benchSecret), nil
	}
	pem, err := exec.CommandContext(ctx, bin, "-genkey", m.key).Output()
	if err != nil {
		return "", fmt.Errorf("-genkey %s: %w", m.key, err)
	}
	path := filepath.Join(dir, fileName(m.name+"-key.pem"))
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		return "", err
	}
	alg := map[string]string{"ed25519": "EdDSA", "p256": "ES256"}[m.key]
	return fmt.Sprintf("token:\n  alg: %s\n  signingKeys: [%q]\n", alg, path), nil
}

// sessionClient keeps its connections: the mix scenario's sessions are
// 100,000 requests per proxy.
var sessionClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}

// newSessions starts n sessions with GET url, eight at a time, and
// returns their Cookie headers.
func newSessions(ctx context.Context, url string, n int) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = newSession(url)
			}
		})
	}
	for i := range out {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newSession starts a session at url and returns its Cookie header.
func newSession(url string) (string, error) {
	resp, err := sessionClient.Get(url)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so that the connection is used again
	resp.Body.Close()
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if resp.StatusCode != http.StatusOK || len(cookies) == 0 {
		return "", fmt.Errorf("GET %s: status %d, %d cookies; want 200 and a session cookie", url, resp.StatusCode, len(cookies))
	}
	return strings.Join(cookies, "; "), nil
}

// startRedis starts a throw-away redis-server on a free port.
func startRedis(ctx context.Context, procs *processes, cpu string) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	addr := freeAddr()
	_, port, _ := net.SplitHostPort(addr)
	p, err := procs.start(ctx, "redis", cpu, bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", procs.dir)
	if err != nil {
		return "", err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p.exited() {
			return "", fmt.Errorf("redis-server exited: %s", p.tail())
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, nil
		}
	}
	return "", errors.New("redis-server did not start listening")
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP waits until url answers 200, or p exits.
func waitHTTP(ctx context.Context, p *process, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %s", p.name, p.tail())
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s: %v", p.name, url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
