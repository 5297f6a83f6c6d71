package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"nucleus/image/pullapi"
	"nucleus/image/ref"
	"nucleus/image/store"
)

// Serve is nucleus-image's main: one pullapi.Request (JSON) from r; the
// events of the work, then its result or error, as pullapi.Reply lines on
// w. It returns the exit status.
func Serve(r io.Reader, w io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	send := func(rep pullapi.Reply) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(rep)
	}
	rep := pullapi.Reply{}
	if err := serve(ctx, r, send, &rep); err != nil {
		rep = pullapi.Reply{Error: err.Error()}
	}
	if err := send(rep); err != nil {
		fmt.Fprintf(os.Stderr, "%s: write result: %v\n", pullapi.HelperName, err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, r io.Reader, send func(pullapi.Reply) error, rep *pullapi.Reply) error {
	var req pullapi.Request
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		return fmt.Errorf("%s: read request: %w", pullapi.HelperName, err)
	}
	st, err := store.Open(req.DataRoot)
	if err != nil {
		return err
	}
	switch req.Op {
	case "pull":
		rf, err := ref.Parse(req.Ref, "/")
		if err != nil {
			return err
		}
		img, err := Pull(ctx, st, rf, Options{Platform: req.Platform, Unpack: req.Unpack, Progress: func(e Event) {
			_ = send(pullapi.Reply{Event: &e})
		}})
		rep.Image = img
		return err
	case "tree":
		if req.Image == nil {
			return fmt.Errorf("%s: tree: the request names no image", pullapi.HelperName)
		}
		rep.Tree, err = st.Tree(ctx, req.Image)
		return err
	}
	return fmt.Errorf("%s: unknown request %q (want pull or tree)", pullapi.HelperName, req.Op)
}
