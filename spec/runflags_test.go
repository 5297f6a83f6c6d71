package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestRunImage(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name       string
		image      string
		entrypoint *string
		rootfs     string
		command    []string
		want       Service
		err        string
	}{
		{name: "image, no command", image: "busybox",
			want: Service{Image: "docker.io/library/busybox:latest", PullPolicy: PullMissing}},
		{name: "image and command", image: "busybox", command: []string{"ls"},
			want: Service{Image: "docker.io/library/busybox:latest", PullPolicy: PullMissing, Command: []string{"ls"}}},
		{name: "entrypoint split", image: "busybox", entrypoint: str("/bin/sh -c"), command: []string{"echo hi"},
			want: Service{Image: "docker.io/library/busybox:latest", PullPolicy: PullMissing, Entrypoint: []string{"/bin/sh", "-c"}, Command: []string{"echo hi"}}},
		{name: "entrypoint cleared", image: "busybox", entrypoint: str(""), command: []string{"sh"},
			want: Service{Image: "docker.io/library/busybox:latest", PullPolicy: PullMissing, Entrypoint: []string{}, Command: []string{"sh"}}},
		{name: "oci layout relative", image: "oci:img:v1",
			want: Service{Image: "oci:/proj/img:v1", PullPolicy: PullMissing}},
		{name: "no image: entrypoint in front", entrypoint: str("env"), command: []string{"true"},
			want: Service{Command: []string{"env", "true"}}},
		{name: "no image, no command", err: "no command given: name one after --, or give --image"},
		{name: "image and rootfs", image: "busybox", rootfs: "/r", err: "--image and --rootfs are exclusive"},
		{name: "bad image", image: "Bad:Ref", err: "--image: image reference \"Bad:Ref\""},
		{name: "bad entrypoint", image: "busybox", entrypoint: str("'x"), err: "--entrypoint: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &Service{Rootfs: tc.rootfs, Command: tc.command}
			err := RunImage(svc, tc.image, tc.entrypoint, "/proj")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*svc, tc.want) {
				t.Errorf("service = %+v, want %+v", *svc, tc.want)
			}
		})
	}
}
