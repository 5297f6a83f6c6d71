package spec

// merge overlays over onto base the way -f files combine: mappings merge key
// by key, scalars and lists replace. Neither input is modified; positions
// stay with the node that provided each value, so errors point at the file
// and line a value came from. Compose's !reset drops a key and !override
// replaces a mapping instead of merging it.
func merge(base, over *node) *node {
	if over == nil {
		return base
	}
	if base == nil || over.override || base.kind != kindMap || over.kind != kindMap {
		return over
	}
	out := &node{kind: kindMap, loc: base.loc,
		keys: make([]key, len(base.keys), len(base.keys)+len(over.keys)),
		vals: make([]*node, len(base.vals), len(base.vals)+len(over.vals)),
	}
	copy(out.keys, base.keys)
	copy(out.vals, base.vals)
	var index map[string]int
	if len(base.keys) > 16 {
		index = make(map[string]int, len(base.keys))
		for i, k := range base.keys {
			index[k.value] = i
		}
	}
	find := func(k string) int {
		if index != nil {
			if i, ok := index[k]; ok {
				return i
			}
			return -1
		}
		for i, kn := range out.keys {
			if kn.value == k {
				return i
			}
		}
		return -1
	}
	var dropped map[int]bool
	for i, k := range over.keys {
		v := over.vals[i]
		j := find(k.value)
		if v.reset {
			if j >= 0 {
				if dropped == nil {
					dropped = map[int]bool{}
				}
				dropped[j] = true
			}
			continue
		}
		if j >= 0 {
			out.vals[j] = merge(out.vals[j], v)
			continue
		}
		if index != nil {
			index[k.value] = len(out.keys)
		}
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, v)
	}
	if dropped != nil {
		keys, vals := out.keys[:0:0], out.vals[:0:0]
		for i := range out.keys {
			if !dropped[i] {
				keys = append(keys, out.keys[i])
				vals = append(vals, out.vals[i])
			}
		}
		out.keys, out.vals = keys, vals
	}
	return out
}
