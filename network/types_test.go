package network

import "testing"

// A host port is forwarded once: on the first network by name, whatever
// order the networks are listed in.
func TestPublishesOnFirstNetworkByName(t *testing.T) {
	nets := []string{"front", "back", "default"}
	for net, want := range map[string]bool{"back": true, "front": false, "default": false} {
		if got := PublishesOn(net, nets); got != want {
			t.Errorf("PublishesOn(%s, %v) = %v, want %v", net, nets, got, want)
		}
	}
	if PublishesOn("x", nil) {
		t.Error("PublishesOn with no networks")
	}
}
