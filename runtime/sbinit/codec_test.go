package sbinit

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fill sets every field reachable from v to a distinct non-zero value, so a
// field the codec forgets comes back zero and fails the comparison.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)) + "\x00é")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n) * -3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n) * 7)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func TestCodecRoundTripsEveryField(t *testing.T) {
	var m Message
	n := 0
	fill(reflect.ValueOf(&m).Elem(), &n)
	got, err := decodeMessage(encodeMessage(&m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &m) {
		t.Errorf("round trip changed the message:\n got %+v\nwant %+v", got, &m)
	}
	// And the small messages of every day.
	for _, m := range []*Message{{Kind: MsgStart}, {Kind: MsgReady, ABI: 7}, {Kind: MsgExit, Status: &ExitStatus{Code: 137, Signal: 9}}} {
		got, err := decodeMessage(encodeMessage(m))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %+v: %+v, %v", m, got, err)
		}
	}
}

// A cut or corrupted packet is an error, never a panic or a huge allocation.
func TestCodecRejectsTruncatedInput(t *testing.T) {
	var m Message
	n := 0
	fill(reflect.ValueOf(&m).Elem(), &n)
	b := encodeMessage(&m)
	for i := 0; i < len(b); i++ {
		if _, err := decodeMessage(b[:i]); err == nil {
			t.Fatalf("decoding the first %d of %d bytes succeeded", i, len(b))
		}
	}
	if _, err := decodeMessage(append(b, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	bad := append([]byte{codecFormat}, 0xff, 0xff, 0xff, 0xff, 0x0f) // a 4 GiB string
	if _, err := decodeMessage(bad); err == nil {
		t.Error("impossible length accepted")
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(&Message{Kind: MsgConfig, Config: &Config{Args: []string{"a"}, Landlock: &LandlockPlan{}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes (no silent loss).
		if again := encodeMessage(m); string(again) != string(b) {
			if m2, err := decodeMessage(again); err != nil || !reflect.DeepEqual(m, m2) {
				t.Errorf("decode/encode not stable: %v", err)
			}
		}
	})
}

// exit.json is read back with encoding/json (a caller that re-attaches).
func TestExitStatusJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []ExitStatus{{}, {Code: 137, Signal: 9, OOMKilled: true}, {Code: -1}} {
		want, _ := json.Marshal(s)
		if got := s.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON(%+v) = %s, want %s", s, got, want)
		}
	}
}

// A hostile count is refused before anything is allocated for it.
func TestCodecBoundsListSizes(t *testing.T) {
	e := &encoder{}
	e.b = append(e.b, codecFormat)
	e.str(MsgConfig)
	e.int(0)
	e.str("")
	e.int(0)
	e.str("")                                 // Writable
	e.bool(true)                              // a Config
	e.uint(1 << 20)                           // Args: a million strings...
	e.b = append(e.b, make([]byte, 1<<20)...) // ...of length 0 each
	if _, err := decodeMessage(e.b); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a list of 2^20 elements: %v, want refused", err)
	}
}

// A packet over the limit is refused and its fds are closed.
func TestRecvRefusesOversizedMessages(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	big := &Message{Kind: MsgExec, Exec: &ExecRequest{Args: []string{strings.Repeat("x", 2000)}}}
	if err := Send(fds[0], big, int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	w.Close() // the copy in flight is the only other write end
	if _, _, err := recvMax(fds[1], 1000); err == nil {
		t.Fatal("oversized message accepted")
	}
	// The passed write end was closed on refusal: the pipe reads EOF.
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || err == nil || os.IsTimeout(err) {
		t.Errorf("read after refusal: %d, %v; want EOF", n, err)
	}
}
