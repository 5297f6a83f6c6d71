package pullapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/internal/helperbin"
)

// HelperName is the image helper's binary, found next to the nucleus
// binary.
const HelperName = "nucleus-image"

// helperPath is $NUCLEUS_IMAGE, else nucleus-image beside this binary.
func helperPath() (string, error) {
	return helperbin.Find(HelperName, "NUCLEUS_IMAGE", "images are pulled and unpacked")
}

// dataRoot is the data root of st (store.Open puts the store in images/).
func dataRoot(st *store.Store) string { return filepath.Dir(st.Dir) }

// Pull brings r into st through nucleus-image and returns its record.
func Pull(ctx context.Context, st *store.Store, r ref.Ref, o Options) (*store.Image, error) {
	rep, err := call(ctx, Request{Op: "pull", DataRoot: dataRoot(st), Ref: r.String(), Platform: o.Platform, Unpack: o.Unpack}, o.Progress)
	if err != nil {
		return nil, err
	}
	if rep.Image == nil {
		return nil, fmt.Errorf("image %s: %s answered no image", r, HelperName)
	}
	return rep.Image, nil
}

// Tree returns the unpacked tree of img, unpacking it through
// nucleus-image when it is not there (the helper is not run for a tree
// that is present).
func Tree(ctx context.Context, st *store.Store, img *store.Image) (string, error) {
	dir, err := st.TreePath(img)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	rep, err := call(ctx, Request{Op: "tree", DataRoot: dataRoot(st), Image: img}, nil)
	if err != nil {
		return "", err
	}
	if rep.Tree == "" {
		return "", fmt.Errorf("image %s: %s answered no tree", img.Ref, HelperName)
	}
	return rep.Tree, nil
}

// call runs nucleus-image with req, passes its events to progress and
// returns its last line.
func call(ctx context.Context, req Request, progress func(Event)) (*Reply, error) {
	bin, err := helperPath()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("image: encode request: %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("image: run %s: %w", bin, err)
	}
	var last *Reply
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rep Reply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			continue // not ours; the exit status and stderr tell
		}
		if rep.Event != nil {
			if progress != nil {
				progress(*rep.Event)
			}
			continue
		}
		last = &rep
	}
	runErr := cmd.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("image: %s gave no answer (%v): %s", bin, runErr, bytes.TrimSpace(stderr.Bytes()))
	}
	if last.Error != "" {
		return nil, errors.New(last.Error)
	}
	return last, nil
}
