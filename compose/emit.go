package compose

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The output is built as yaml.v3 nodes so that key order is the order the
// converter adds keys in (deterministic) and approximate mappings carry a
// comment beside the key.

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func newSeq() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode} }

// add appends key: v to mapping m; comment (if any) goes on the key's line.
func add(m *yaml.Node, key string, v *yaml.Node, comment string) {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	if comment != "" {
		k.HeadComment = "# " + comment
	}
	m.Content = append(m.Content, k, v)
}

// str is a string value. Compose has interpolated it already, and
// nucleus.yaml interpolates again: a literal $ is written as $$.
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ReplaceAll(s, "$", "$$")}
}

// addStr adds key: v when v is not empty.
func addStr(m *yaml.Node, key, v string) {
	if v != "" {
		add(m, key, str(v), "")
	}
}

func num[T ~int | ~int64 | ~uint32 | ~uint64](v T) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(v), 10)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func strList(ss []string) *yaml.Node {
	s := newSeq()
	s.Style = yaml.FlowStyle
	for _, v := range ss {
		s.Content = append(s.Content, str(v))
	}
	return s
}

func flow(n *yaml.Node) *yaml.Node { n.Style = yaml.FlowStyle; return n }

// size prints bytes in the largest exact unit nucleus reads.
func size(b int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if b >= u.n && b%u.n == 0 {
			return strconv.FormatInt(b/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(b, 10)
}

// mapOf is a mapping of key, value pairs.
func mapOf(kv ...any) *yaml.Node {
	m := newMap()
	for i := 0; i+1 < len(kv); i += 2 {
		add(m, kv[i].(string), kv[i+1].(*yaml.Node), "")
	}
	return m
}
