package resolve

import (
	"testing"
	"time"
)

// An image config's Healthcheck.StartInterval (Docker API 1.44) is read,
// though go-containerregistry's type leaves it out.
func TestStartIntervalFromConfig(t *testing.T) {
	cfg := `{"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Test":["CMD","true"],"StartPeriod":60000000000,"StartInterval":2000000000}}}`
	if got := startInterval([]byte(cfg)); got != 2*time.Second {
		t.Errorf("startInterval = %v; want 2s", got)
	}
	if got := startInterval([]byte(`{"config":{}}`)); got != 0 {
		t.Errorf("startInterval without one = %v; want 0", got)
	}
}
