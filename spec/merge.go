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
	ix := newKeyIndex(out, len(base.keys))
	var dropped map[int]bool
	for i, k := range over.keys {
		v := over.vals[i]
		j := ix.find(k.value)
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
		ix.add(k, v)
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

// keyIndex finds and adds keys of a mapping under construction: a linear
// scan while it is small, a map when it holds more than 16 keys (projects
// with hundreds of services).
type keyIndex struct {
	n  *node
	at map[string]int // nil: scan n.keys
}

// newKeyIndex indexes n's keys; size is how many keys n is expected to hold.
func newKeyIndex(n *node, size int) *keyIndex {
	ix := &keyIndex{n: n}
	if size > 16 {
		ix.at = make(map[string]int, size)
		for i, k := range n.keys {
			ix.at[k.value] = i
		}
	}
	return ix
}

// find returns the position of key k, or -1.
func (ix *keyIndex) find(k string) int {
	if ix.at != nil {
		if i, ok := ix.at[k]; ok {
			return i
		}
		return -1
	}
	for i, kn := range ix.n.keys {
		if kn.value == k {
			return i
		}
	}
	return -1
}

// add appends k: v to the mapping.
func (ix *keyIndex) add(k key, v *node) {
	if ix.at != nil {
		ix.at[k.value] = len(ix.n.keys)
	}
	ix.n.keys = append(ix.n.keys, k)
	ix.n.vals = append(ix.n.vals, v)
}
