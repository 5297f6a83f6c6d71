package k8s

import (
	"strings"
	"testing"
)

// TestNames: object names are RFC 1123 labels that start with a letter
// (Services need one), ConfigMap keys keep only their allowed characters.
func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"web": "web", "My_App": "my-app", "a..b": "a-b", "_x_": "x", "9lives": "s-9lives",
		"": "x", strings.Repeat("a", 70): strings.Repeat("a", 63), strings.Repeat("a", 62) + "_b": strings.Repeat("a", 62),
	} {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"nginx.conf": "nginx.conf", "a b/c": "a_b_c", "..": "file", "ünï": "_n_"} {
		if got := configKey(in); got != want {
			t.Errorf("configKey(%q) = %q, want %q", in, got, want)
		}
	}
}
