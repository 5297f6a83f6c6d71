package seccomp

import "testing"

func TestLoadBPF(t *testing.T) {
	if _, err := LoadBPF(make([]byte, 12)); err == nil {
		t.Error("LoadBPF accepted 12 bytes")
	}
	if _, err := LoadBPF(make([]byte, 8*(maxInstructions+1))); err == nil {
		t.Error("LoadBPF accepted too many instructions")
	}
	p, err := LoadBPF(nil)
	if err != nil || p.Mode() != ModeUnconfined || p.BPF() != nil {
		t.Errorf("LoadBPF(nil) = %+v, %v; want unconfined", p, err)
	}
	// ld [0]; ret ALLOW: any whole number of instructions round-trips.
	bpf := []byte{0x20, 0, 0, 0, 0, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}
	q, err := LoadBPF(bpf)
	if err != nil || string(q.BPF()) != string(bpf) || q.Instructions() != 2 {
		t.Fatalf("LoadBPF round trip: %v", err)
	}
	if q.WithMode(ModeDefault).Mode() != ModeDefault {
		t.Error("WithMode did not set the mode")
	}
}
