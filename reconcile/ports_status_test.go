package reconcile

import (
	"testing"

	"nucleus/spec"
)

// ps shows the file's ports, a port without a host port with the ephemeral
// one the attachment reports; a fixed port changed in place is the file's,
// not the attachment's older one.
func TestPublishedPortsFillsEphemeral(t *testing.T) {
	rec := &SandboxRecord{
		Applied: &spec.Service{Ports: []spec.Port{
			{Target: 8080, HostIP: "127.0.0.1", Protocol: "tcp"},
			{Target: 9090, Published: 19090, PublishedEnd: 19090, HostIP: "0.0.0.0", Protocol: "tcp"},
			{Target: 53, HostIP: "0.0.0.0", Protocol: "udp"},
		}},
		Attachments: []Attachment{{Network: "default", Ports: []spec.Port{
			{Target: 8080, Published: 40000, PublishedEnd: 40000, HostIP: "127.0.0.1", Protocol: "tcp"},
			{Target: 9090, Published: 18080, PublishedEnd: 18080, HostIP: "0.0.0.0", Protocol: "tcp"},
		}}},
	}
	var got []string
	for _, p := range publishedPorts(rec) {
		got = append(got, FormatPort(p))
	}
	want := []string{"127.0.0.1:40000->8080/tcp", "0.0.0.0:19090->9090/tcp", "53/udp"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("ports %q; want %q", got, want)
	}
}
