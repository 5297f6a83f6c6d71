// Package store keeps OCI images on disk, content-addressed, under
// `<data root>/images` (rootdir.Root.Data):
//
//	blobs/sha256/<hex>          manifests, configs and layers by digest
//	blobs/sha256/<hex>.partial  a download under way or interrupted (resumed)
//	refs/<sha256 of ref>.json   one Image record per canonical reference
//	trees/<chain ID hex>/       one unpacked root per layer chain (OCI ChainID),
//	                            with the mount points the image lacks added
//	trees/.tmp-<hex>-*          an unpack under way (removed by the next try)
//	uses/<sha256 of project>.json  which references a project uses
//	leases/<chain ID hex>/<sha256 of holder>  a running sandbox's claim on a tree
//	locks/                      flock files: one per blob and per tree (removed
//	                            by a prune); store.lock (uses, removal) and
//	                            gc.lock (pulls and unpacks hold it shared, the
//	                            collection of blobs and trees exclusively)
//
// Every blob is hashed while it is written and renamed into place only when
// its digest matches; manifests and configs are hashed again each time they
// are read, layers while they are unpacked, so a blob changed on disk is
// refused (and a bad layer removed). Two processes pulling or unpacking the
// same image share the work: the second waits on the first's lock and then
// uses its result.
//
// As an ordinary user (Store.Userns) layers are unpacked and trees removed
// inside a user namespace mapped like the user's sandboxes, so a tree's
// host owners are the user's subordinate ids its sandboxes map back to the
// image's (unpack.ApplyIn).
//
// Removal is Docker-like: Remove refuses a reference a project uses unless
// forced; Prune without all removes images no project uses, with all every
// image whose tree no live sandbox leases. Neither ever removes a tree with
// a live lease.
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/image/unpack"
	"nucleus/internal/atomicfile"
	"nucleus/internal/flock"
)

// ErrNotFound is returned by Lookup for a reference the store has no record of.
var ErrNotFound = errors.New("image not in the store")

// Layer is one layer of an image.
type Layer struct {
	Digest    string `json:"digest"`  // of the blob as stored (compressed)
	DiffID    string `json:"diff_id"` // of the uncompressed tar
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
}

// Image is the record of one reference.
type Image struct {
	Ref      string    `json:"ref"` // canonical, ref.Ref.String()
	Manifest string    `json:"manifest"`
	Config   string    `json:"config"`
	Layers   []Layer   `json:"layers"`
	ChainID  string    `json:"chain_id"`
	Platform string    `json:"platform"`
	Size     int64     `json:"size"` // manifest + config + layers, as stored
	Pulled   time.Time `json:"pulled"`
	// Users is filled by List: the projects that use the reference.
	Users []string `json:"users,omitempty"`
}

// Store is an image store rooted at Dir.
type Store struct {
	Dir string
	// Userns, when set, is the mapping of a rootless user's sandboxes:
	// layers are unpacked and trees removed inside it (unpack.ApplyIn),
	// so the tree's host owners are what those sandboxes see as the
	// image's. Open sets it for an ordinary user; root leaves it nil.
	Userns *unpack.Userns
	// usernsErr is why an ordinary user has no mapping, told on unpack.
	usernsErr error
}

// Open opens (creating it if needed) the store under the data root.
func Open(dataRoot string) (*Store, error) {
	s := &Store{Dir: filepath.Join(dataRoot, "images")}
	if os.Geteuid() != 0 {
		ns, err := unpack.SubordinateUserns(os.Geteuid(), os.Getegid())
		if err != nil {
			s.usernsErr = err
		} else {
			s.Userns = &ns
		}
	}
	for _, d := range []string{"blobs/sha256", "refs", "trees", "uses", "leases", "locks"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return s, nil
}

// ChainID computes the OCI ChainID of diff IDs (in layer order).
func ChainID(diffIDs []string) string {
	if len(diffIDs) == 0 {
		return ""
	}
	chain := diffIDs[0]
	for _, d := range diffIDs[1:] {
		sum := sha256.Sum256([]byte(chain + " " + d))
		chain = "sha256:" + hex.EncodeToString(sum[:])
	}
	return chain
}

// removeTree removes an unpacked tree (or a part of one): as a rootless
// user from inside the namespace its files belong to.
func (s *Store) removeTree(path string) error {
	if s.Userns == nil {
		return os.RemoveAll(path)
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return unpack.RemoveAllIn(*s.Userns, path)
}

// hexOf checks a "sha256:<64 hex>" digest and returns the hex.
func hexOf(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("digest %q: expected sha256:<64 lowercase hex digits>", digest)
	}
	return h, nil
}

func sumOf(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// BlobPath is where the blob with digest lives (present or not).
func (s *Store) BlobPath(digest string) (string, error) {
	h, err := hexOf(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, "blobs", "sha256", h), nil
}

// HasBlob says whether the blob is present (not whether it is intact).
func (s *Store) HasBlob(digest string) bool {
	p, err := s.BlobPath(digest)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// lock takes an exclusive flock on locks/name, waiting for another holder.
func (s *Store) lock(name string) (func(), error) {
	unlock, err := flock.Lock(filepath.Join(s.Dir, "locks", name), unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("image store lock: %w", err)
	}
	return unlock, nil
}

// ReadBlob reads a small blob (manifest, config) and verifies its digest.
func (s *Store) ReadBlob(digest string) ([]byte, error) {
	p, err := s.BlobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("image store: blob %s: %w", digest, err)
	}
	if got := "sha256:" + hexSum(b); got != digest {
		os.Remove(p) // never used; the next pull fetches it again
		return nil, fmt.Errorf("image store: blob %s is %w (its content hashes to %s); removed, pull the image again", digest, ErrCorrupt, got)
	}
	return b, nil
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// PutBlob stores b under digest after checking that it hashes to it; what
// names the image for the error.
func (s *Store) PutBlob(what, digest string, b []byte) error {
	p, err := s.BlobPath(digest)
	if err != nil {
		return err
	}
	if got := "sha256:" + hexSum(b); got != digest {
		return fmt.Errorf("image %s: blob %s: digest mismatch: the content hashes to %s; nothing stored", what, digest, got)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := atomicfile.Write(p, b, 0o600); err != nil {
		return fmt.Errorf("image %s: store blob %s: %w", what, digest, err)
	}
	return nil
}

// Lookup returns the record of ref (canonical form) or ErrNotFound (also
// when one of its blobs is gone). The manifest and config are re-hashed.
func (s *Store) Lookup(ref string) (*Image, error) {
	img, err := s.readRecord(s.refPath(ref))
	if err != nil {
		return nil, err
	}
	// A blob removed as corrupt makes the image missing: pull it again.
	for _, d := range append([]string{img.Manifest, img.Config}, layerDigests(img)...) {
		if !s.HasBlob(d) {
			return nil, fmt.Errorf("image %s: blob %s is gone: %w", ref, d, ErrNotFound)
		}
	}
	for _, d := range []string{img.Manifest, img.Config} {
		if _, err := s.ReadBlob(d); err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
	}
	return img, nil
}

func (s *Store) refPath(ref string) string {
	return filepath.Join(s.Dir, "refs", sumOf(ref)+".json")
}

func (s *Store) readRecord(p string) (*Image, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("image store: %s: %w", p, err)
	}
	return &img, nil
}

// Record files img under img.Ref, replacing an older record. Its blobs must
// be in the store already.
func (s *Store) Record(img *Image) error {
	for _, l := range append([]Layer{{Digest: img.Manifest}, {Digest: img.Config}}, img.Layers...) {
		if !s.HasBlob(l.Digest) {
			return fmt.Errorf("image %s: record: blob %s is missing", img.Ref, l.Digest)
		}
	}
	diffIDs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		diffIDs[i] = l.DiffID
	}
	img.ChainID = ChainID(diffIDs)
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return err
	}
	// No store lock: the write is atomic, and a prune waits for the pull's
	// shared gc lock, which its caller holds until here.
	if err := atomicfile.Write(s.refPath(img.Ref), b, 0o600); err != nil {
		return fmt.Errorf("image %s: record: %w", img.Ref, err)
	}
	return nil
}

// records reads every reference record.
func (s *Store) records() ([]*Image, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, "refs"))
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var out []*Image
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		img, err := s.readRecord(filepath.Join(s.Dir, "refs", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// sha256Writer hashes what passes through it.
type hashingReader struct {
	r io.Reader
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingReader) digest() string { return "sha256:" + hex.EncodeToString(h.h.Sum(nil)) }
