// Package redistest starts real Redis servers for tests: a standalone
// redis-server, a master watched by a sentinel, or a three-node Redis
// Cluster on free loopback ports, each
// stopped by its own PID when the test ends. It uses Debian's
// redis-server and redis-cli (test/run.sh installs them); without them a
// test is skipped, or fails when CI is set.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionproxy/sessionproxy/internal/testenv"
)

// Server is a redis-server a test started.
type Server struct {
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan struct{}
}

// Start runs a standalone redis-server with no persistence on a free
// loopback port and waits until it answers.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

func start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := testenv.RequireTool(t, "redis-server")
	dir := t.TempDir()
	var s *Server
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
		}, extra...)
		s = &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &testenv.Buffer{}, done: make(chan struct{})}
		s.cmd = exec.Command(bin, args...)
		testenv.DieWithParent(s.cmd)
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		if s.waitReady() {
			break
		}
		s.kill()
		if attempt == 2 { // a port taken between freePort and the bind
			t.Fatalf("redis-server did not start:\n%s", s.out.String())
		}
	}
	t.Cleanup(s.kill)
	return s
}

// waitReady waits up to 10 s for the server to answer PING.
func (s *Server) waitReady() bool {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			return false
		default:
		}
		if c.Ping(context.Background()).Err() == nil {
			return true
		}
	}
	return false
}

// Client returns a go-redis client for the server, closed with the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// Pause stops the server with SIGSTOP: connections stay open and
// nothing answers, as in a network partition or a stuck server.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP redis-server: %v", err)
	}
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT redis-server: %v", err)
	}
}

// kill stops the server by its PID (SIGCONT first, in case it is paused).
func (s *Server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	testenv.Stop(s.cmd.Process, s.done, 5*time.Second)
}

// Cluster is a three-master Redis Cluster a test started.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// Client returns a go-redis cluster client, closed with the test.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// StartCluster runs three cluster-enabled redis-servers, joins them with
// redis-cli --cluster create (every slot assigned, no replicas) and waits
// until every node reports the cluster ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := testenv.RequireTool(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		// The bus port is chosen too: the default, port+10000, may be
		// taken or out of range.
		c.Nodes = append(c.Nodes, start(t, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(freePort(t)),
			"--cluster-node-timeout", "5000"))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		ok := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			info, err := cl.ClusterInfo(context.Background()).Result()
			if err == nil && bytes.Contains([]byte(info), []byte("cluster_state:ok")) {
				ok = true
				break
			}
		}
		cl.Close()
		if !ok {
			t.Fatalf("cluster node %s never reported cluster_state:ok", n.Addr)
		}
	}
	return c
}

// Sentinel is a redis-sentinel watching a master a test started.
type Sentinel struct {
	Addr   string  // the sentinel's 127.0.0.1:port
	Master *Server // the master it watches, named MasterName
}

// MasterName is the name StartSentinel's sentinel knows the master by.
const MasterName = "mymaster"

// StartSentinel runs a standalone master and one redis-server in sentinel
// mode watching it, and waits until the sentinel names the master.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	port := freePort(t)
	cfg := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s 1\n", port, dir, MasterName, strings.Replace(master.Addr, ":", " ", 1))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &testenv.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(testenv.RequireTool(t, "redis-server"), conf, "--sentinel")
	testenv.DieWithParent(s.cmd)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.kill)
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer sc.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		addr, err := sc.GetMasterAddrByName(context.Background(), MasterName).Result()
		if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == master.Addr {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel never named the master (%v):\n%s", err, s.out.String())
		}
	}
	return &Sentinel{Addr: s.Addr, Master: master}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
