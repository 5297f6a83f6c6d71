package unpack

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// fuzzParts are the name components fuzzed entries are made of: the ones
// that matter for escapes (climbs, absolute names, whiteouts, a name that
// may be a symlink).
var fuzzParts = []string{"", "a", "b", "..", ".", "/", "link", ".wh.a", ".wh.link", ".wh..wh..opq", "../sentinel", "@SENTINEL@"}

var fuzzTypes = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo, tar.TypeChar}

// fuzzLayers decodes data as two layers of entries, 4 bytes each: type,
// two name components, link target; the first byte says where the first
// layer ends.
func fuzzLayers(data []byte, sentinel string) [2][]ent {
	var ls [2][]ent
	if len(data) == 0 {
		return ls
	}
	split := int(data[0])
	data = data[1:]
	part := func(b byte) string {
		return strings.ReplaceAll(fuzzParts[int(b)%len(fuzzParts)], "@SENTINEL@", sentinel)
	}
	for i := 0; i+4 <= len(data) && i < 4*64; i += 4 {
		e := ent{typ: fuzzTypes[int(data[i])%len(fuzzTypes)], body: "x", mode: 0o755}
		e.name = part(data[i+1])
		if p := part(data[i+2]); p != "" {
			e.name += "/" + p
		}
		e.link = part(data[i+3]) + "/" + part(data[i+2])
		if e.name == "" {
			continue // archive/tar refuses to write it
		}
		if e.typ != tar.TypeReg {
			e.body = ""
		}
		ls[min(1, i/4/max(1, split%8))] = append(ls[min(1, i/4/max(1, split%8))], e)
	}
	return ls
}

// FuzzApply asserts that whatever entries arrive, in one layer or over
// two, nothing appears or changes outside root. Apply may refuse them.
func FuzzApply(f *testing.F) {
	for _, seed := range [][]byte{
		{2, 2, 6, 0, 10, 0, 6, 1, 0},            // link -> ../sentinel, then link/a
		{1, 2, 6, 0, 11, 0, 6, 1, 0},            // link -> /abs/sentinel in an earlier layer
		{1, 3, 1, 0, 10, 0, 3, 1, 0},            // hardlink a -> ../sentinel
		{1, 0, 3, 10, 0},                        // ../sentinel/../sentinel
		{2, 1, 1, 0, 0, 0, 1, 9, 0},             // opaque a
		{1, 2, 1, 0, 3, 0, 1, 7, 0},             // a -> .., whiteout a
		{3, 0, 1, 2, 0, 2, 6, 0, 1, 3, 6, 1, 6}, // mixes
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, sentinel, check := tree(t)
		for _, l := range fuzzLayers(data, sentinel) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, e := range l {
				h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body))}
				if tw.WriteHeader(h) != nil {
					continue
				}
				tw.Write([]byte(e.body))
			}
			tw.Close()
			_ = Apply(root, &b, Options{Image: "fuzz", Layer: "sha256:f"})
		}
		check()
	})
}
