package runtime

import (
	"io"
	"os"
	"sync"
)

// testV2Dir makes tests start the init through the v2 path
// (CLONE_INTO_CGROUP into this v2 directory) on a host whose controllers are v1.
var testV2Dir string

// v2Dir is the v2 cgroup directory to clone the init into, "" on v1.
func (s *Sandbox) v2Dir() string {
	if s.cg != nil && s.cg.V2() {
		return s.cg.Dir()
	}
	return testV2Dir
}

// attachConsole copies between the caller's stdio and the pty master.
func (s *Sandbox) attachConsole(master *os.File) {
	s.tty = master
	if s.cfg.Stdin != nil {
		go func() { _, _ = io.Copy(master, s.cfg.Stdin) }()
	}
	if s.cfg.Stdout != nil {
		s.ioDone = make(chan struct{})
		go func() { _, _ = io.Copy(s.cfg.Stdout, master); close(s.ioDone) }()
	}
}

// stdio returns the init's fds 0-2 (passed on to the workload): the
// caller's files, a pty slave, /dev/null when logging, or pipes copied by
// goroutines for other readers and writers.
func (s *Sandbox) stdio() ([3]*os.File, error) {
	cfg := s.cfg
	var out [3]*os.File
	s.copies = &sync.WaitGroup{}
	devnull := func(i int) error {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		out[i] = f
		return err
	}
	switch {
	case cfg.Stdout == nil || cfg.Terminal:
		// Logged by the init, or a terminal the init allocates in the
		// sandbox's devpts (see attachConsole).
		for i := range out {
			if err := devnull(i); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = cfg.Stdout
	}
	if f, ok := cfg.Stdin.(*os.File); ok {
		out[0] = dupFile(f)
	} else if cfg.Stdin == nil {
		if err := devnull(0); err != nil {
			return out, err
		}
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return out, err
		}
		out[0] = r
		go func() { _, _ = io.Copy(w, cfg.Stdin); w.Close() }()
	}
	for i, wr := range []io.Writer{cfg.Stdout, stderr} {
		if f, ok := wr.(*os.File); ok {
			out[i+1] = dupFile(f)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return out, err
		}
		out[i+1] = w
		s.copies.Add(1)
		go func(wr io.Writer) { defer s.copies.Done(); _, _ = io.Copy(wr, r); r.Close() }(wr)
	}
	return out, nil
}
