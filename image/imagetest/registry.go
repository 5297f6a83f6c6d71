package imagetest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Reg is an in-process registry (go-containerregistry's pkg/registry,
// in memory) served over plain HTTP on 127.0.0.1, as a loopback registry
// is reached. It counts what clients fetch and can tamper with or cut a
// blob's download. Requests made by Push are not counted.
type Reg struct {
	// Host is "127.0.0.1:PORT", the registry part of references.
	Host string

	mu     sync.Mutex
	reqs   map[string]int   // "METHOD /path" -> requests
	bytes  map[string]int64 // "/path" -> body bytes sent
	tamper map[string]bool  // digest -> corrupt every GET
	cut    map[string]int64 // digest -> cut the next GET after n bytes
}

// pushHeader marks Push's own requests, which the counters skip.
const pushHeader = "X-Imagetest-Push"

var blobPath = regexp.MustCompile(`^/v2/.+/blobs/(sha256:[0-9a-f]{64})$`)

// blobOf is the digest of a blob's path, or "".
func blobOf(path string) string {
	if m := blobPath.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

// Registry starts a registry for the test; it is closed at t.Cleanup.
func Registry(t testing.TB) *Reg {
	t.Helper()
	r := &Reg{reqs: map[string]int{}, bytes: map[string]int64{},
		tamper: map[string]bool{}, cut: map[string]int64{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get(pushHeader) != "" {
			inner.ServeHTTP(w, req)
			return
		}
		path := req.URL.Path
		cw := &countingWriter{ResponseWriter: w, cut: -1, add: func(n int64) {
			r.mu.Lock()
			r.bytes[path] += n
			r.mu.Unlock()
		}}
		r.mu.Lock()
		r.reqs[req.Method+" "+req.URL.Path]++
		if d := blobOf(req.URL.Path); d != "" && req.Method == http.MethodGet {
			cw.tamper = r.tamper[d]
			if n, ok := r.cut[d]; ok {
				cw.cut = n
				delete(r.cut, d)
			}
		}
		r.mu.Unlock()
		inner.ServeHTTP(cw, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Push uploads img (a v1.Image or v1.ImageIndex) as repoTag ("app:1",
// "library/busybox:latest") and returns its full reference
// ("127.0.0.1:PORT/app:1").
func (r *Reg) Push(t testing.TB, repoTag string, img any) string {
	t.Helper()
	s := r.Host + "/" + repoTag
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("Push %q: %v", s, err)
	}
	tr := remote.WithTransport(markPush{http.DefaultTransport})
	switch v := img.(type) {
	case v1.Image:
		err = remote.Write(ref, v, tr)
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, v, tr)
	default:
		t.Fatalf("Push: %T is neither v1.Image nor v1.ImageIndex", img)
	}
	if err != nil {
		t.Fatalf("Push %s: %v", s, err)
	}
	return s
}

// Requests counts requests of method ("GET", "HEAD") for path
// ("/v2/app/manifests/1", BlobPath(...)).
func (r *Reg) Requests(method, path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[method+" "+path]
}

// Bytes counts the response body bytes sent for path.
func (r *Reg) Bytes(path string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes[path]
}

// BlobGets counts GETs of blob h from any repository (a layer shared by
// two images is one blob).
func (r *Reg) BlobGets(h v1.Hash) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, c := range r.reqs {
		method, p, _ := strings.Cut(k, " ")
		if method == http.MethodGet && blobOf(p) == h.String() {
			n += c
		}
	}
	return n
}

// BlobBytes counts the body bytes sent of blob h from any repository.
func (r *Reg) BlobBytes(h v1.Hash) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for k, c := range r.bytes {
		if blobOf(k) == h.String() {
			n += c
		}
	}
	return n
}

// BlobPath is the path a client GETs blob h of repo ("app") from.
func BlobPath(repo string, h v1.Hash) string {
	return "/v2/" + repo + "/blobs/" + h.String()
}

// Reset zeroes the counters (between a first and a second pull).
func (r *Reg) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.bytes = map[string]int{}, map[string]int64{}
}

// Tamper makes every later GET of blob h (in any repository) serve its
// first body byte inverted, with the length unchanged, until
// Tamper(h, false). With a Range request the first byte of the range is
// the one inverted.
func (r *Reg) Tamper(h v1.Hash, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.tamper[h.String()] = true
	} else {
		delete(r.tamper, h.String())
	}
}

// CutAfter makes the next GET of blob h (one request only) send its
// headers and the first n body bytes, then drop the connection: the
// client sees an unexpected EOF, as with a download interrupted midway.
func (r *Reg) CutAfter(h v1.Hash, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut[h.String()] = n
}

// countingWriter counts body bytes and applies a blob's tamper and cut.
// Bytes are counted (add) before they are written, so a client that has
// read them never sees a counter short of them.
type countingWriter struct {
	http.ResponseWriter
	n      int64
	add    func(int64)
	tamper bool
	cut    int64 // -1: no cut
}

// write writes p to the response, counting it first.
func (w *countingWriter) write(p []byte) (int, error) {
	w.add(int64(len(p)))
	k, err := w.ResponseWriter.Write(p)
	w.n += int64(k)
	if k < len(p) {
		w.add(int64(k - len(p)))
	}
	return k, err
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.tamper && w.n == 0 && len(p) > 0 {
		q := append([]byte(nil), p...)
		q[0] ^= 0xff
		p = q
	}
	if w.cut >= 0 && w.n+int64(len(p)) > w.cut {
		w.write(p[:w.cut-w.n])
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		// net/http closes the connection without a log line.
		panic(http.ErrAbortHandler)
	}
	return w.write(p)
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// markPush adds pushHeader to Push's requests.
type markPush struct{ http.RoundTripper }

func (m markPush) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(pushHeader, "1")
	return m.RoundTripper.RoundTrip(req)
}
