package schema_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"nucleus/schema"
	"nucleus/spec"
)

// The scalar syntaxes in the schema (signals, capabilities, durations,
// sizes) must agree with spec's parsers, so an editor never marks a value
// that nucleus accepts, nor passes one that nucleus rejects.

// validField validates one value placed at services.s.KEY (or deeper).
func validField(t *testing.T, doc string) bool {
	t.Helper()
	return schema.ValidateYAML([]byte(doc)) == nil
}

func TestSignalsMatchParseSignal(t *testing.T) {
	accepted := 0
	for i := 1; i < 32; i++ {
		name := unix.SignalName(syscall.Signal(i))
		if name == "" {
			continue
		}
		short := strings.TrimPrefix(name, "SIG")
		for _, form := range []string{name, short, strings.ToLower(name), strings.ToLower(short)} {
			_, err := spec.ParseSignal(form)
			inSchema := validField(t, "services: {s: {stop_signal: "+form+"}}")
			if (err == nil) != inSchema {
				t.Errorf("signal %q: spec.ParseSignal error=%v, schema accepts=%v; they must agree", form, err, inSchema)
			}
			if err == nil {
				accepted++
			}
		}
	}
	// Numbers and real-time forms, quoted and as YAML integers.
	for _, form := range []string{"0", "9", "31", "32", "33", "34", "64", "65", "SIGRTMIN", "SIGRTMIN+3", "rtmin+3", "SIGRTMIN+30", "SIGRTMIN+31", "SIGRTMAX-2", "SIGRTMAX+1", "IOT"} {
		_, err := spec.ParseSignal(form)
		for _, doc := range []string{"services: {s: {stop_signal: '" + form + "'}}", "services: {s: {stop_signal: " + form + "}}"} {
			if inSchema := validField(t, doc); (err == nil) != inSchema {
				t.Errorf("%s: spec.ParseSignal error=%v, schema accepts=%v; they must agree", doc, err, inSchema)
			}
		}
	}
	if accepted == 0 {
		t.Fatal("no signal accepted at all; the comparison above tested nothing")
	}
}

func TestCapabilitiesMatchParseCapability(t *testing.T) {
	var root struct {
		Defs map[string]struct {
			AnyOf []struct {
				Enum []string `json:"enum"`
			} `json:"anyOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON, &root); err != nil {
		t.Fatal(err)
	}
	names := root.Defs["capability"].AnyOf[0].Enum
	numbers := map[int]string{}
	for _, n := range names {
		canon, num, err := spec.ParseCapability(n)
		if err != nil {
			t.Errorf("schema lists capability %q, spec.ParseCapability rejects it: %v", n, err)
			continue
		}
		if prev, dup := numbers[num]; dup && prev != canon {
			t.Errorf("%q and %q parse to the same number %d", prev, canon, num)
		}
		numbers[num] = canon
		if !validField(t, "services: {s: {cap_add: ["+strings.ToLower(n)+"]}}") {
			t.Errorf("schema rejects lower-case %q, which spec.ParseCapability accepts", strings.ToLower(n))
		}
	}
	// Every capability the kernel headers know (0..CAP_LAST_CAP) is listed.
	for i := 0; i <= unix.CAP_LAST_CAP; i++ {
		if _, ok := numbers[i]; !ok {
			t.Errorf("capability number %d is missing from the schema", i)
		}
	}
	for _, bad := range []string{"NET_FOO", "CAP_", "ALL"} {
		_, _, err := spec.ParseCapability(bad)
		if err == nil || validField(t, "services: {s: {cap_add: ["+bad+"]}}") {
			t.Errorf("capability %q: want rejected by both; spec error=%v", bad, err)
		}
	}
}

func TestDurationsMatchParseDuration(t *testing.T) {
	agree(t, "duration", "services: {s: {stop_grace_period: %q}}",
		func(in string) error { _, err := spec.ParseDuration(in); return err }, []valueCase{
			{"10s", true}, {"500ms", true}, {"1m30s", true}, {"1h", true}, {"1.5h", true},
			{"2h45m10s5ms", true}, {"300us", true}, {"300µs", true}, {"10ns", true}, {"0", true}, {"0s", true},
			{"10", false}, {"1d", false}, {"-1s", false}, {"s", false}, {"1 s", false}, {"1S", false}, {"", false},
		})
}

func TestSizesMatchParseByteSize(t *testing.T) {
	agree(t, "size", "services: {s: {resources: {memory: %q}}}",
		func(in string) error { _, err := spec.ParseByteSize(in); return err }, []valueCase{
			{"256M", true}, {"256m", true}, {"64mb", true}, {"64MB", true}, {"1g", true}, {"1G", true}, {"512k", true},
			{"512KB", true}, {"1024", true}, {"100b", true}, {"1.5G", true}, {".5g", true}, {"5.", true},
			{"1T", false}, {"10x", false}, {"-1M", false}, {"1e3", false}, {"M", false}, {"1 g", false}, {"", false},
		})
}

type valueCase struct {
	in string
	ok bool
}

// agree checks that spec's parser and the schema (the value put into
// field, a format with one %q) accept and refuse the same values.
func agree(t *testing.T, what, field string, parse func(string) error, cases []valueCase) {
	t.Helper()
	for _, c := range cases {
		err := parse(c.in)
		inSchema := validField(t, fmt.Sprintf(field, c.in))
		if (err == nil) != c.ok || inSchema != c.ok {
			t.Errorf("%s %q: want ok=%v; spec's parser error=%v, schema accepts=%v", what, c.in, c.ok, err, inSchema)
		}
	}
}

// Editors show descriptions as help: every property in the schema has one.
func TestEveryPropertyHasDescription(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(schema.JSON, &root); err != nil {
		t.Fatal(err)
	}
	defs := root["$defs"].(map[string]any)
	var check func(n any, path string)
	check = func(n any, path string) {
		switch v := n.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k, p := range props {
					pm := p.(map[string]any)
					desc, _ := pm["description"].(string)
					if ref, ok := pm["$ref"].(string); ok && desc == "" {
						desc, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)["description"].(string)
					}
					if desc == "" {
						t.Errorf("%s.%s: no description", path, k)
					}
				}
			}
			for k, e := range v {
				check(e, path+"/"+k)
			}
		case []any:
			for i, e := range v {
				check(e, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	check(root, "#")
}
