package sessionproxy

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEqualNumbers: numbers compare by value, exactly, whatever their
// size, so a change to a long id or a precise amount is never missed.
func TestEqualNumbers(t *testing.T) {
	long := "1" + strings.Repeat("0", 80)
	tests := []struct {
		a, b string
		want bool
	}{
		{"1", "1", true},
		{"1", "1.0", true},
		{"1", "10e-1", true},
		{"100", "1e2", true},
		{"100", "1E+2", true},
		{"0", "-0", true},
		{"0", "0.0e5", true},
		{"1", "-1", false},
		{"1.5", "1.50001", false},
		{"1e400", "1e401", false},
		{long + "1", long + "2", false},
		{long + "1", long + "1.000", true},
		{"0." + strings.Repeat("0", 90) + "1", "1e-91", true},
		{"0." + strings.Repeat("0", 90) + "1", "1e-92", false},
	}
	for _, tc := range tests {
		if got := equal(json.Number(tc.a), json.Number(tc.b)); got != tc.want {
			t.Errorf("equal(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
