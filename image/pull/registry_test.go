package pull_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"nucleus/image/ref"
	"nucleus/image/store"
)

// testRegistry is ggcr's in-process registry on 127.0.0.1 behind a wrapper
// that counts blob GETs and the bytes they served, and can tamper with or
// cut a blob's transfer.
type testRegistry struct {
	t    *testing.T
	srv  *httptest.Server
	Host string

	mu       sync.Mutex
	gets     map[string]int   // blob digest -> GETs
	served   map[string]int64 // blob digest -> body bytes sent
	ranged   int              // GETs with a Range header
	cutOnce  map[string]bool  // cut this blob's next transfer halfway
	tamper   map[string]bool  // flip a byte of this blob
	delay    time.Duration    // before each blob GET
	requests []string
}

func newRegistry(t *testing.T) *testRegistry {
	r := &testRegistry{t: t, gets: map[string]int{}, served: map[string]int64{}, cutOnce: map[string]bool{}, tamper: map[string]bool{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i := strings.Index(req.URL.Path, "/blobs/sha256:")
		if req.Method != http.MethodGet || i < 0 {
			inner.ServeHTTP(w, req)
			return
		}
		digest := req.URL.Path[i+len("/blobs/"):]
		r.mu.Lock()
		r.gets[digest]++
		if req.Header.Get("Range") != "" {
			r.ranged++
		}
		cut, tamper, delay := r.cutOnce[digest], r.tamper[digest], r.delay
		delete(r.cutOnce, digest)
		r.mu.Unlock()
		time.Sleep(delay)
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if tamper && len(body) > 0 {
			body = append([]byte(nil), body...)
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		if cut {
			body = body[:len(body)/2]
		}
		n, _ := w.Write(body)
		r.mu.Lock()
		r.served[digest] += int64(n)
		r.mu.Unlock()
		if cut {
			// Drop the connection mid-blob: the client sees a short body.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// push uploads img as repo:tag and returns its reference; counters reset.
func (r *testRegistry) push(repoTag string, img v1.Image) ref.Ref {
	r.t.Helper()
	s := r.Host + "/" + repoTag
	nr, err := name.ParseReference(s)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(nr, img); err != nil {
		r.t.Fatalf("push %s: %v", s, err)
	}
	r.reset()
	rf, err := ref.Parse(s, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return rf
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets, r.served, r.ranged = map[string]int{}, map[string]int64{}, 0
}

func (r *testRegistry) blobGets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.gets {
		n += c
	}
	return n
}

// randomImage is a random image of n gzip layers of about size bytes each.
func randomImage(t *testing.T, size, n int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, n)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// assertNoTemps fails when the store holds a partial download or an
// unfinished unpack.
func assertNoTemps(t *testing.T, st *store.Store) {
	t.Helper()
	filepath.Walk(st.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, ".partial") || strings.HasPrefix(info.Name(), ".tmp-")) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}
