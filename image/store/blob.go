package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Fetch opens a blob's bytes from offset. It returns the offset its stream
// really starts at: offset when the source honoured it, 0 when it sends the
// whole blob again.
type Fetch func(ctx context.Context, offset int64) (io.ReadCloser, int64, error)

// fetchTries bounds how often one WriteBlob reopens a stream that broke.
const fetchTries = 4

// WriteBlob makes the blob with digest and size present, fetching it unless
// it is already there. Only one process downloads a blob at a time (the
// others wait, then find it present); an interrupted download is kept as
// <hex>.partial and resumed from where it stopped, here and by later calls.
// The bytes are hashed as they are written and renamed into place only when
// the digest matches; on a mismatch they are discarded. what names the
// image in errors; progress (may be nil) gets the bytes present so far. It
// reports whether anything was transferred.
func (s *Store) WriteBlob(ctx context.Context, what, digest string, size int64, fetch Fetch, progress func(done int64)) (bool, error) {
	p, err := s.BlobPath(digest)
	if err != nil {
		return false, fmt.Errorf("image %s: %w", what, err)
	}
	if _, err := os.Stat(p); err == nil {
		return false, nil
	}
	unlock, err := s.lock("blob-" + p[len(p)-64:])
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := os.Stat(p); err == nil {
		return false, nil // another process fetched it while we waited
	}
	partial := p + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
	}
	defer f.Close()
	h := sha256.New()
	have, err := io.Copy(h, f) // the bytes a former try left
	if err != nil {
		return false, fmt.Errorf("image %s: blob %s: read partial download: %w", what, digest, err)
	}
	restart := func() error {
		h.Reset()
		have = 0
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	unknown := size < 0 // a local source of unknown length: no resuming
	if have > size || unknown {
		if err := restart(); err != nil {
			return false, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
		}
	}
	transferred := false
	kept := have > 0 // bytes of an earlier run, trusted until the end
	for pass := 0; ; pass++ {
		finished := false
		var lastErr error
		for try := 0; try < fetchTries && !finished; try++ {
			if !unknown && have >= size {
				break
			}
			if err := ctx.Err(); err != nil {
				return transferred, err
			}
			rc, start, err := fetch(ctx, have)
			if err != nil {
				lastErr = err
				continue
			}
			if start != have {
				if start != 0 {
					rc.Close()
					return transferred, fmt.Errorf("image %s: blob %s: source resumed at byte %d, asked for %d", what, digest, start, have)
				}
				if err := restart(); err != nil {
					rc.Close()
					return transferred, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
				}
			}
			var in io.Reader = rc
			if !unknown {
				// Never take more than the blob's size: a bigger answer is
				// wrong and must not fill the disk.
				in = io.LimitReader(rc, size-have+1)
			}
			n, err := io.Copy(io.MultiWriter(f, h, progressWriter{&have, progress}), in)
			rc.Close()
			if n > 0 {
				transferred = true
			}
			lastErr = err
			finished = unknown && err == nil
			if err == nil && !unknown && have < size {
				lastErr = io.ErrUnexpectedEOF
			}
		}
		if (unknown && !finished) || (!unknown && have < size) {
			return transferred, fmt.Errorf("image %s: blob %s: download stopped at %d of %d bytes (kept for resuming): %w", what, digest, have, size, lastErr)
		}
		got := "sha256:" + fmt.Sprintf("%x", h.Sum(nil))
		if (!unknown && have != size) || got != digest {
			if kept && pass == 0 {
				// The bytes an earlier run left were bad: start over, once.
				if err := restart(); err != nil {
					return transferred, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
				}
				continue
			}
			f.Close()
			os.Remove(partial)
			return transferred, fmt.Errorf("image %s: blob %s: digest mismatch: received %d bytes hashing to %s (expected %d bytes); discarded", what, digest, have, got, size)
		}
		break
	}
	if err := f.Sync(); err != nil {
		return transferred, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
	}
	if err := os.Rename(partial, p); err != nil {
		return transferred, fmt.Errorf("image %s: blob %s: %w", what, digest, err)
	}
	return transferred, nil
}

type progressWriter struct {
	have *int64
	fn   func(int64)
}

func (w progressWriter) Write(b []byte) (int, error) {
	*w.have += int64(len(b))
	if w.fn != nil {
		w.fn(*w.have)
	}
	return len(b), nil
}

// OpenLayer opens a stored blob for reading; the reader hashes what it
// returns and, at the end, fails if the digest does not match, removing
// the blob so that the next pull fetches it again.
func (s *Store) OpenLayer(digest string) (io.ReadCloser, error) {
	p, err := s.BlobPath(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("image store: layer %s: %w", digest, err)
	}
	return &verifyingReader{f: f, hr: hashingReader{r: f, h: sha256.New()}, digest: digest, path: p}, nil
}

type verifyingReader struct {
	f      *os.File
	hr     hashingReader
	digest string
	path   string
}

// ErrCorrupt marks a blob whose content on disk no longer hashes to its digest.
var ErrCorrupt = errors.New("corrupt on disk")

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.hr.Read(p)
	if err == io.EOF {
		if got := v.hr.digest(); got != v.digest {
			os.Remove(v.path)
			return n, fmt.Errorf("layer %s is %w (its content hashes to %s); removed, pull the image again", v.digest, ErrCorrupt, got)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.f.Close() }
