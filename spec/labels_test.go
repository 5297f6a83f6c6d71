package spec

import (
	"reflect"
	"testing"
)

// TestNetworkAndVolumeLabels: labels on networks and volumes are kept, and
// changing them changes nothing the planner compares.
func TestNetworkAndVolumeLabels(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `
networks:
  back: {labels: {tier: db}}
volumes:
  data: {labels: [keep=yes, bare]}
services:
  web: {command: [x], networks: [back], volumes: ["data:/d"]}
`}, nil)
	if got := p.Networks["back"].Labels; !reflect.DeepEqual(got, map[string]string{"tier": "db"}) {
		t.Errorf("network labels = %v", got)
	}
	if got := p.Volumes["data"].Labels; !reflect.DeepEqual(got, map[string]string{"keep": "yes", "bare": ""}) {
		t.Errorf("volume labels = %v", got)
	}
}
