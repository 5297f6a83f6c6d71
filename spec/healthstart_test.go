package spec

import (
	"strings"
	"testing"
	"time"
)

// start_interval loads, is hashed only when given, and an image's
// StartInterval applies to a service without a healthcheck of its own.
func TestHealthcheckStartInterval(t *testing.T) {
	const base = "services:\n  a:\n    command: [x]\n    healthcheck: {test: [CMD, \"true\"], start_period: 1m"
	load := func(extra string) *Service {
		return mustLoad(t, map[string]string{"nucleus.yaml": base + extra + "}\n"}, nil).Services["a"]
	}
	without, with := load(""), load(", start_interval: 2s")
	if with.Healthcheck.StartInterval != Duration(2*time.Second) {
		t.Errorf("start_interval loaded as %v; want 2s", with.Healthcheck.StartInterval)
	}
	if ServiceHash(without) == ServiceHash(with) {
		t.Errorf("start_interval left the hash unchanged")
	}
	if _, err := loadString(t, base+", start_interval: 0s}\n"); err == nil || !strings.Contains(err.Error(), "services.a.healthcheck.start_interval: start_interval must be more than 0") {
		t.Errorf("start_interval: 0s gave %v", err)
	}
	img := &Service{Name: "a", Image: "docker.io/library/x:1"}
	got, err := img.WithImageConfig(ImageConfig{Cmd: []string{"x"}, Healthcheck: &ImageHealthcheck{
		Test: []string{"CMD", "true"}, StartPeriod: time.Minute, StartInterval: 3 * time.Second}})
	if err != nil || got.Healthcheck == nil || got.Healthcheck.StartInterval != Duration(3*time.Second) {
		t.Errorf("image StartInterval 3s: %+v, %v; want start_interval 3s", got.Healthcheck, err)
	}
}
