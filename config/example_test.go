package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sessionproxy/sessionproxy/config"
)

// exampleEnv is the environment config.example.yaml needs.
func exampleEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"SESSION_KEY":     "a-session-key-of-at-least-32-characters",
		"UPSTREAM_SECRET": "an-upstream-secret-of-at-least-32-chars",
	}[name]
	return v, ok
}

// TestExampleIsValidAndShowsTheDefaults keeps config.example.yaml honest:
// it parses, and every value it shows is the default, except the required
// values, which have none.
func TestExampleIsValidAndShowsTheDefaults(t *testing.T) {
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse(b, exampleEnv)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	want := config.Default()
	want.Upstream, want.Keys, want.Token.Secret = got.Upstream, got.Keys, got.Token.Secret
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.yaml shows values that are not the defaults:\n got  %+v\n want %+v", got, want)
	}
}

// TestExampleDocumentsEveryKey fails when a config key is missing from
// config.example.yaml: add it there, with its default, and to the
// README's configuration table.
func TestExampleDocumentsEveryKey(t *testing.T) {
	documented := exampleKeys(t)
	for _, key := range keys(reflect.TypeFor[config.Config](), "") {
		if _, ok := documented[key]; !ok {
			t.Errorf("config.example.yaml does not document %s", key)
		}
	}
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys(reflect.TypeFor[config.Config](), "") {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("README.md does not document `%s`", key)
		}
	}
}

// exampleKeys returns every key config.example.yaml shows, as a dotted
// path, with the value node it shows.
func exampleKeys(t *testing.T) map[string]*yaml.Node {
	t.Helper()
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	shown := map[string]*yaml.Node{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			path, v := prefix+n.Content[i].Value, n.Content[i+1]
			shown[path] = v
			walk(v, path+".")
		}
	}
	walk(root.Content[0], "")
	return shown
}

// keys returns the YAML path of every field of the struct type t.
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		out = append(out, path)
		if f.Type.Kind() == reflect.Struct && f.Type.NumMethod() == 0 && reflect.PointerTo(f.Type).NumMethod() == 0 {
			out = append(out, keys(f.Type, path+".")...)
		}
	}
	return out
}

// TestReadmeShowsTheDefaults holds the README's configuration table to
// config.example.yaml (which TestExampleIsValidAndShowsTheDefaults holds to
// the code): a row's default, when it is a literal, is the value the
// example shows for that key.
func TestReadmeShowsTheDefaults(t *testing.T) {
	example := exampleKeys(t)

	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for line := range strings.Lines(string(doc)) {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		node, ok := example[key]
		def := strings.TrimSpace(cells[2])
		if !ok || node.Kind != yaml.ScalarNode || !strings.HasPrefix(def, "`") {
			continue // not a scalar key, or a default in words ("required")
		}
		shown := node.Value
		lit, _, _ := strings.Cut(def[1:], "`")
		lit = strings.Trim(lit, `"`)
		if _, isKey := example[lit]; isKey {
			continue // the default is another key's value
		}
		if lit == "[]" && shown == "" { // an empty list, commented examples under it
			continue
		}
		checked++
		if lit != shown {
			t.Errorf("README.md gives %s the default %q; config.example.yaml (and the code) %q", key, lit, shown)
		}
	}
	if checked < 40 {
		t.Errorf("only %d README rows checked: has the table's layout changed?", checked)
	}
}
