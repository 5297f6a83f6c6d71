package sbinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"
)

// The control socket carries Messages in this compact binary form, not
// JSON: the init decodes its Config on the start-up path of every sandbox,
// and encoding/json's first use of a type in a fresh process (building its
// reflection tables) cost ~0.6 ms of that path. Fields are written in a fixed
// order: integers as varints, strings and byte slices with a length prefix,
// optional structs after a presence byte. Both ends are the same build (the
// init is started by the binary it came with), so there is no versioning
// beyond a format byte; TestCodecRoundTripsEveryField catches a field
// added to the types but not here.

const codecFormat = 7 // 2: Config.FDUpper, Message.Writable; 3: ShmSize, Rlimits, Mount.Mode/Exec; 4: Config.FileMounts; 5: ExecRequest.User; 6: Mount.Path; 7: Config.TimerSlack

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) str(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.b = append(e.b, b...)
}
func (e *encoder) strs(ss []string) { encodeList(e, ss, e.str) }
func (e *encoder) ints(vs []int)    { encodeList(e, vs, func(v int) { e.int(int64(v)) }) }

// encodeList writes a list as its length, then each element with put.
func encodeList[T any](e *encoder, vs []T, put func(T)) {
	e.uint(uint64(len(vs)))
	for _, v := range vs {
		put(v)
	}
}

// decoder reads what encoder wrote; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uint() uint64 { return varint(d, binary.Uvarint) }
func (d *decoder) int() int64   { return varint(d, binary.Varint) }

// varint reads one (unsigned or signed) varint with read.
func varint[T int64 | uint64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v != 0
}

// maxElems bounds every list and map: with the bytes-left check below, a
// corrupt or hostile count cannot make a large allocation.
const maxElems = 1 << 16

// count reads the length of a list whose elements take at least minSize
// encoded bytes each; it must fit in what is left.
func (d *decoder) count(minSize int) int {
	n := d.uint()
	if n > uint64(len(d.b)/minSize) {
		d.fail(errShort)
		return 0
	}
	if n > maxElems {
		d.fail(fmt.Errorf("list of %d elements, more than the %d allowed", n, maxElems))
		return 0
	}
	return int(n)
}

func (d *decoder) raw() []byte {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	if v := d.raw(); len(v) > 0 {
		return slices.Clone(v)
	}
	return nil
}

func (d *decoder) strs() []string { return decodeList(d, 1, d.str) }
func (d *decoder) ints() []int    { return decodeList(d, 1, func() int { return int(d.int()) }) }

// decodeList reads what encodeList wrote: a count of elements taking at least
// minSize bytes each, then each element with get; an empty list is nil.
func decodeList[T any](d *decoder, minSize int, get func() T) []T {
	n := d.count(minSize)
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = get()
	}
	return out
}

func encodeMessage(m *Message) []byte {
	e := &encoder{b: make([]byte, 0, 256)}
	e.b = append(e.b, codecFormat)
	e.str(m.Kind)
	e.int(int64(m.PID))
	e.str(m.Err)
	e.int(int64(m.ABI))
	e.str(m.Writable)
	e.bool(m.Config != nil)
	if c := m.Config; c != nil {
		encodeConfig(e, c)
	}
	e.bool(m.Exec != nil)
	if x := m.Exec; x != nil {
		e.strs(x.Args)
		e.strs(x.Env)
		e.str(x.Dir)
		e.bool(x.Terminal)
		e.uint(uint64(x.Rows))
		e.uint(uint64(x.Cols))
		e.str(x.User)
	}
	e.bool(m.Status != nil)
	if s := m.Status; s != nil {
		e.int(int64(s.Code))
		e.int(int64(s.Signal))
		e.bool(s.OOMKilled)
		e.uint(s.OOMKills)
	}
	return e.b
}

func encodeConfig(e *encoder, c *Config) {
	e.strs(c.Args)
	e.strs(c.Env)
	e.str(c.Dir)
	e.str(c.User)
	e.str(c.Hostname)
	e.bool(c.Rootfs)
	e.int(int64(c.FDRootfs))
	e.bool(c.ReadOnly)
	e.int(int64(c.FDUpper))
	e.str(c.RootfsPath)
	e.str(c.UpperPath)
	encodeList(e, c.Mounts, func(m Mount) {
		e.str(m.Type)
		e.str(m.Target)
		e.bool(m.ReadOnly)
		e.int(m.Size)
		e.int(int64(m.FD))
		e.str(m.Path)
		e.bool(m.IsDir)
		e.uint(uint64(m.Mode))
		e.bool(m.NoExec)
	})
	e.int(c.ShmSize)
	encodeList(e, c.Rlimits, func(r Rlimit) {
		e.str(r.Name)
		e.int(int64(r.Resource))
		e.uint(r.Soft)
		e.uint(r.Hard)
	})
	keys := make([]string, 0, len(c.Files))
	for k := range c.Files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	encodeList(e, keys, func(k string) {
		e.str(k)
		e.bytes(c.Files[k])
	})
	encodeList(e, c.FileMounts, func(f FileMount) {
		e.str(f.Target)
		e.int(int64(f.UID))
		e.int(int64(f.GID))
		e.uint(uint64(f.Mode))
		e.int(int64(f.FD))
	})
	e.bool(c.HostNetNS)
	e.bool(c.UserNS)
	e.ints(c.CapAdd)
	e.bytes(c.Seccomp)
	e.ints(c.FDCgroupTasks)
	e.bool(c.CgroupLater)
	e.bool(c.Landlock != nil)
	if l := c.Landlock; l != nil {
		e.int(int64(l.ABI))
		e.uint(l.Handled)
		encodeList(e, l.Entries, func(en LandlockEntry) {
			e.str(en.Path)
			e.uint(en.Dir)
			e.uint(en.File)
			e.bool(en.Optional)
		})
	}
	e.uint(c.TimerSlack)
	e.bool(c.Terminal)
	e.bool(c.Logs)
	e.int(c.LogMaxSize)
	e.int(int64(c.FDLogDir))
	e.int(int64(c.FDExitFile))
	e.int(int64(c.FDListener))
}

func decodeMessage(b []byte) (*Message, error) {
	if len(b) == 0 || b[0] != codecFormat {
		return nil, fmt.Errorf("unknown message format")
	}
	d := &decoder{b: b[1:]}
	m := &Message{Kind: d.str(), PID: int(d.int()), Err: d.str(), ABI: int(d.int()), Writable: d.str()}
	if d.bool() {
		m.Config = decodeConfig(d)
	}
	if d.bool() {
		m.Exec = &ExecRequest{Args: d.strs(), Env: d.strs(), Dir: d.str(), Terminal: d.bool(),
			Rows: uint16(d.uint()), Cols: uint16(d.uint()), User: d.str()}
	}
	if d.bool() {
		m.Status = &ExitStatus{Code: int(d.int()), Signal: syscall.Signal(d.int()), OOMKilled: d.bool(), OOMKills: d.uint()}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Errorf("%d bytes left over", len(d.b)))
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

func decodeConfig(d *decoder) *Config {
	c := &Config{Args: d.strs(), Env: d.strs(), Dir: d.str(), User: d.str(), Hostname: d.str(),
		Rootfs: d.bool(), FDRootfs: int(d.int()), ReadOnly: d.bool(), FDUpper: int(d.int()),
		RootfsPath: d.str(), UpperPath: d.str()}
	c.Mounts = decodeList(d, 7, func() Mount {
		return Mount{Type: d.str(), Target: d.str(), ReadOnly: d.bool(), Size: d.int(),
			FD: int(d.int()), Path: d.str(), IsDir: d.bool(), Mode: uint32(d.uint()), NoExec: d.bool()}
	})
	c.ShmSize = d.int()
	c.Rlimits = decodeList(d, 4, func() Rlimit {
		return Rlimit{Name: d.str(), Resource: int(d.int()), Soft: d.uint(), Hard: d.uint()}
	})
	if n := d.count(2); n > 0 {
		c.Files = make(map[string][]byte, n)
		for range n {
			k := d.str()
			c.Files[k] = d.bytes()
		}
	}
	c.FileMounts = decodeList(d, 5, func() FileMount {
		return FileMount{Target: d.str(), UID: int(d.int()), GID: int(d.int()), Mode: uint32(d.uint()), FD: int(d.int())}
	})
	c.HostNetNS, c.UserNS = d.bool(), d.bool()
	c.CapAdd, c.Seccomp, c.FDCgroupTasks, c.CgroupLater = d.ints(), d.bytes(), d.ints(), d.bool()
	if d.bool() {
		l := &LandlockPlan{ABI: int(d.int()), Handled: d.uint()}
		l.Entries = decodeList(d, 4, func() LandlockEntry {
			return LandlockEntry{Path: d.str(), Dir: d.uint(), File: d.uint(), Optional: d.bool()}
		})
		c.Landlock = l
	}
	c.TimerSlack = d.uint()
	c.Terminal, c.Logs, c.LogMaxSize = d.bool(), d.bool(), d.int()
	c.FDLogDir, c.FDExitFile, c.FDListener = int(d.int()), int(d.int()), int(d.int())
	return c
}
