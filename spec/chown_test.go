package spec

import (
	"strings"
	"testing"
)

// TestVolumeChown: :U and its long form chown: true mark a writable bind
// mount; elsewhere they are errors naming the field.
func TestVolumeChown(t *testing.T) {
	head := "services:\n  web:\n    command: [/bin/true]\n"
	p, err := loadString(t, head+"    volumes: [\"./data:/data:U\", {type: bind, source: ./logs, target: /logs, chown: true}]\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Services["web"].Volumes {
		if !m.Chown || m.Type != MountBind {
			t.Errorf("mount %+v: want a bind mount with Chown", m)
		}
	}
	for yaml, want := range map[string]string{
		"    volumes: [{type: tmpfs, target: /t, chown: true}]\n":                            "nucleus.yaml:4:48: services.web.volumes[0].chown: U (chown) applies only to bind mounts",
		"    volumes: [{type: bind, source: ., target: /t, read_only: true, chown: true}]\n": "services.web.volumes[0].chown: U (chown) hands the source to the sandbox for writing",
		"    volumes: [\"./d:/d:ro,U\"]\n":                                                   "nucleus.yaml:4:15: services.web.volumes[0]: invalid volume \"./d:/d:ro,U\"",
	} {
		_, err := loadString(t, head+yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yaml, err, want)
		}
	}
}
