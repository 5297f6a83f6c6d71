package spec

import (
	"strings"
	"testing"
)

// TestVolumeChown: :U and its long form chown: true mark a writable bind
// mount or named dir volume (issue 11, defect 5: a fresh named volume for
// user: postgres); on a tmpfs or with ro they are errors naming the file,
// line, column and field.
func TestVolumeChown(t *testing.T) {
	head := "services:\n  web:\n    command: [/bin/true]\n"
	vols := "volumes: {pg: {}, scratch: {type: tmpfs}}\n"
	p, err := loadString(t, head+"    volumes: [\"./data:/data:U\", {type: bind, source: ./logs, target: /logs, chown: true}, "+
		"\"pg:/var/lib/pg:U\", {type: volume, source: pg, target: /pg2, chown: true}]\n"+vols)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{MountBind, MountBind, MountVolume, MountVolume}
	for i, m := range p.Services["web"].Volumes {
		if !m.Chown || m.Type != want[i] {
			t.Errorf("mount %+v: want a %s mount with Chown", m, want[i])
		}
	}
	for yaml, want := range map[string]string{
		"    volumes: [{type: tmpfs, target: /t, chown: true}]\n":                            "nucleus.yaml:4:48: services.web.volumes[0].chown: U (chown) applies only to bind mounts and named volumes, not to a tmpfs",
		"    volumes: [{type: bind, source: ., target: /t, read_only: true, chown: true}]\n": "services.web.volumes[0].chown: U (chown) hands the source to the service's user for writing",
		"    volumes: [\"./d:/d:ro,U\"]\n":                                                   "nucleus.yaml:4:15: services.web.volumes[0]: invalid volume \"./d:/d:ro,U\"",
		"    volumes: [\"pg:/d:ro,U\"]\n" + vols:                                             "nucleus.yaml:4:15: services.web.volumes[0]: invalid volume \"pg:/d:ro,U\": U (chown) hands the source",
		"    volumes: [\"scratch:/d:U\"]\n" + vols:                                           "nucleus.yaml:4:15: services.web.volumes[0]: volume \"scratch\" is a tmpfs volume: U (chown) applies only to bind mounts and dir volumes",
		"    volumes: [{type: volume, source: scratch, target: /d, chown: true}]\n" + vols:   "nucleus.yaml:4:66: services.web.volumes[0].chown: volume \"scratch\" is a tmpfs volume",
	} {
		_, err := loadString(t, head+yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yaml, err, want)
		}
	}
}
