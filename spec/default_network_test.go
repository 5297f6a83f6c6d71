package spec

import (
	"slices"
	"testing"
)

// TestDefaultNetworkOnlyWhenUsed: the implicit "default" network exists
// when a service joins it (by naming no networks, or naming it), not when
// every service has `networks: []`: an unused network was still created,
// and for an ordinary user on a host whose /dev/net/tun only root may open
// that made up fail though nothing needed a network.
func TestDefaultNetworkOnlyWhenUsed(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"a service names none", "services:\n  a: {command: x}\n", []string{DefaultNetwork}},
		{"every service has none", "services:\n  a: {command: x, networks: []}\n  b: {command: x, networks: []}\n", nil},
		{"one of two has none", "services:\n  a: {command: x, networks: []}\n  b: {command: x}\n", []string{DefaultNetwork}},
		{"declared, unused default", "networks: {back: {}}\nservices:\n  a: {command: x, networks: [back]}\n", []string{"back"}},
		{"declared, default used", "networks: {back: {}}\nservices:\n  a: {command: x}\n", []string{"back", DefaultNetwork}},
	} {
		p, err := loadString(t, c.yaml)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for n := range p.Networks {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: networks %v, want %v", c.name, got, c.want)
		}
	}
}
