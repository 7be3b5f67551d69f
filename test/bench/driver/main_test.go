package main

import (
	"slices"
	"strings"
	"testing"
)

func TestPickModes(t *testing.T) {
	for _, tc := range []struct {
		names   []string
		want    []string // names, in order
		env     [][]string
		wantErr string
	}{
		{names: []string{"koa", "secure"}, want: []string{"koa", "secure"}, env: [][]string{nil, nil}},
		{names: []string{"secure", "secure+GOGC=400"}, want: []string{"secure", "secure+GOGC=400"}, env: [][]string{nil, {"GOGC=400"}}},
		{names: []string{"memory+GOGC=200+GODEBUG=gctrace=1"}, want: []string{"memory+GOGC=200+GODEBUG=gctrace=1"}, env: [][]string{{"GOGC=200", "GODEBUG=gctrace=1"}}},
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
				base, _, _ := strings.Cut(m.name, "+")
				if i := slices.IndexFunc(allModes, func(b mode) bool { return b.name == base }); m.config != allModes[i].config {
					t.Errorf("mode %q has config %q, want %s's", m.name, m.config, base)
				}
			}
		})
	}
}
