package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPickModes(t *testing.T) {
	for _, tc := range []struct {
		names   []string
		want    []string // names, in order
		env     [][]string
		build   [][]string // nil: none in any
		wantErr string
	}{
		{names: []string{"koa", "secure"}, want: []string{"koa", "secure"}, env: [][]string{nil, nil}},
		{names: []string{"secure", "secure+GOGC=400"}, want: []string{"secure", "secure+GOGC=400"}, env: [][]string{nil, {"GOGC=400"}}},
		{names: []string{"memory+GOGC=200+GODEBUG=gctrace=1"}, want: []string{"memory+GOGC=200+GODEBUG=gctrace=1"}, env: [][]string{{"GOGC=200", "GODEBUG=gctrace=1"}}},
		{names: []string{"secure", "secure+GOFLAGS=-pgo=/tmp/cpu.pprof+GOGC=400"}, want: []string{"secure", "secure+GOFLAGS=-pgo=/tmp/cpu.pprof+GOGC=400"}, env: [][]string{nil, {"GOGC=400"}}, build: [][]string{nil, {"GOFLAGS=-pgo=/tmp/cpu.pprof"}}},
		{names: []string{"koa+GOAMD64=v3+GOEXPERIMENT=nogreenteagc+GODEBUG=gctrace=1"}, want: []string{"koa+GOAMD64=v3+GOEXPERIMENT=nogreenteagc+GODEBUG=gctrace=1"}, env: [][]string{{"GODEBUG=gctrace=1"}}, build: [][]string{{"GOAMD64=v3", "GOEXPERIMENT=nogreenteagc"}}},
		{names: []string{"secure", "secur"}, wantErr: `unknown mode "secur"`},
		{names: []string{"secure+GOGC"}, wantErr: `want VAR=value after +, got "GOGC"`},
	} {
		t.Run(strings.Join(tc.names, ","), func(t *testing.T) {
			got, err := pickModes(tc.names)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range got {
				if m.name != tc.want[i] || !slices.Equal(m.env, tc.env[i]) {
					t.Errorf("mode %d = %q %q, want %q %q", i, m.name, m.env, tc.want[i], tc.env[i])
				}
				if tc.build != nil && !slices.Equal(m.build, tc.build[i]) || tc.build == nil && m.build != nil {
					t.Errorf("mode %q builds with %q, want %q", m.name, m.build, tc.build)
				}
				base, _, _ := strings.Cut(m.name, "+")
				if i := slices.IndexFunc(allModes, func(b mode) bool { return b.name == base }); m.config != allModes[i].config {
					t.Errorf("mode %q has config %q, want %s's", m.name, m.config, base)
				}
			}
		})
	}
}

func TestStartProfile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()

	file := filepath.Join(dir, "1-read-secure.pprof")
	if err := startProfile(t.Context(), admin, 100*time.Millisecond, file).wait(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A CPU profile is gzipped protobuf.
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s holds %d bytes, not a gzipped profile: %q", file, len(b), b[:min(len(b), 40)])
	}

	// A proxy without admin.pprof answers 404: the run fails and says so.
	srv404 := httptest.NewServer(http.NotFoundHandler())
	defer srv404.Close()
	err = startProfile(t.Context(), strings.TrimPrefix(srv404.URL, "http://"), time.Second, filepath.Join(dir, "x.pprof")).wait()
	if err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("err = %v, want the profile's status 404", err)
	}
}

func TestFileName(t *testing.T) {
	for _, name := range []string{"secure", "secure+GOFLAGS=-pgo=/tmp/cpu.pprof", "1-mix-memory+GODEBUG=a=1,b=2.pprof", "a\nb"} {
		got := fileName(name)
		if filepath.Base(got) != got || strings.ContainsAny(got, "/\n") {
			t.Errorf("fileName(%q) = %q: not one file name", name, got)
		}
		if !strings.ContainsRune(name, '/') && !strings.ContainsRune(name, '\n') && got != name {
			t.Errorf("fileName(%q) = %q, want it unchanged", name, got)
		}
	}
}

func TestNeighbourCommand(t *testing.T) {
	for _, tc := range []struct {
		busy bool
		want string
	}{
		{false, "chrt --idle 0 ./neighbour -mb 32"},
		{true, "./neighbour -mb 32"},
	} {
		if got := strings.Join(neighbourCommand("./neighbour", 32, tc.busy), " "); got != tc.want {
			t.Errorf("busy %v: %q, want %q", tc.busy, got, tc.want)
		}
	}
}
