package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	spconfig "github.com/sessionproxy/sessionproxy/config"
)

// There is no Docker engine where these tests run, so they check what
// can be checked without one: the image's build step (docker/build.sh,
// which the Dockerfile runs) and the shape of the Dockerfile and the
// compose file.

// TestImageBuildIsStatic runs the image's build step and checks the
// binary it makes: static (the final image has no libc), versioned.
func TestImageBuildIsStatic(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "sessionproxy")
	build := exec.Command("../docker/build.sh", out)
	build.Env = append(os.Environ(), "VERSION=1.2.3-test")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker/build.sh: %v\n%s", err, b)
	}
	info, err := exec.Command("go", "version", "-m", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("go version -m: no %s in\n%s", want, info)
		}
	}
	if v, err := exec.Command(out, "-version").Output(); err != nil || strings.TrimSpace(string(v)) != "sessionproxy 1.2.3-test" {
		t.Errorf("-version = %q, %v; want the VERSION the build was given", v, err)
	}
}

// TestDockerfile checks the image is built by docker/build.sh, ends on a
// small static base and runs as a non-root user.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	var buildsWithScript bool
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			user = "" // USER is per stage
		case "USER":
			user = f[1]
		case "RUN":
			buildsWithScript = buildsWithScript || strings.Contains(line, "docker/build.sh")
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	if final := froms[len(froms)-1]; !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final)
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if !buildsWithScript {
		t.Error("the image is not built with docker/build.sh, so the tests do not check its build")
	}
}

// compose is the part of docker-compose.yml the test reads.
type compose struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Expose      []string          `yaml:"expose"`
	} `yaml:"services"`
}

var composeVar = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[?-][^}]*)?\}$`)

// TestComposeFile checks docker-compose.yml as far as it can be without an
// engine: the services, what they build, the mounted config (valid with
// the environment the file passes), the ports, and no inline secrets.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"sessionproxy", "app", "redis"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
	for name, s := range c.Services {
		if s.Build != nil {
			df := filepath.Join("..", s.Build.Context, cmpOr(s.Build.Dockerfile, "Dockerfile"))
			if _, err := os.Stat(df); err != nil {
				t.Errorf("service %s builds %s: %v", name, df, err)
			}
		} else if s.Image == "" {
			t.Errorf("service %s has neither build nor image", name)
		}
		for k, v := range s.Environment {
			if !composeVar.MatchString(v) {
				t.Errorf("service %s: environment %s is set inline; pass it from the environment as ${%s}", name, k, k)
			}
		}
	}

	sp := c.Services["sessionproxy"]
	// The mounted config, parsed with the environment compose passes.
	var configFile string
	for _, v := range sp.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && slices.Contains(sp.Command, parts[1]) {
			configFile = filepath.Join("..", parts[0])
		}
	}
	if configFile == "" {
		t.Fatalf("sessionproxy mounts no volume at its -config path %v: %v", sp.Command, sp.Volumes)
	}
	raw, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range sp.Environment {
		env[composeVar.FindStringSubmatch(v)[1]] = "value-of-" + k + "-0123456789abcdef0123456789"
	}
	cfg, err := spconfig.Parse(raw, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("%s with the compose environment: %v", configFile, err)
	}

	// The config's addresses agree with the compose file.
	if want := "http://app:" + c.Services["app"].Expose[0]; cfg.Upstream != want {
		t.Errorf("upstream %s, want the app service %s", cfg.Upstream, want)
	}
	if !slices.Contains(c.Services["app"].Command, "0.0.0.0") {
		if df, _ := os.ReadFile("../examples/flask/Dockerfile"); !strings.Contains(string(df), `"0.0.0.0"`) {
			t.Error("the app does not listen on 0.0.0.0 in its container, so sessionproxy cannot reach it")
		}
	}
	_, listenPort, _ := strings.Cut(cfg.Listen, ":")
	_, adminPort, _ := strings.Cut(cfg.Admin.Listen, ":")
	var publishesPublic, publishesAdmin bool
	for _, p := range sp.Ports {
		parts := strings.Split(p, ":")
		switch {
		case parts[len(parts)-1] == listenPort:
			publishesPublic = true
		case parts[len(parts)-1] == adminPort:
			publishesAdmin = true
			if len(parts) != 3 || parts[0] != "127.0.0.1" {
				t.Errorf("port %q publishes the admin listener beyond the host's loopback", p)
			}
		}
	}
	if !publishesPublic || !publishesAdmin {
		t.Errorf("ports %v: want the public (%s) and admin (%s) listeners published", sp.Ports, listenPort, adminPort)
	}
	if host, _, _ := strings.Cut(cfg.Admin.Listen, ":"); host == "127.0.0.1" || host == "localhost" {
		t.Errorf("admin.listen %s is the container's loopback: the published port cannot reach it", cfg.Admin.Listen)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
