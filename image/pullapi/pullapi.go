// Package pullapi is what nucleus needs of pulling and unpacking images
// without linking the code that does it: the progress events, and Pull
// and Tree, which run the nucleus-image helper beside the nucleus binary.
// go-containerregistry, go-digest and klauspost/compress (their package
// init costs every start ~1 ms, issue 15) are linked only into
// nucleus-image, which runs only when an image or its tree is not in the
// store yet.
package pullapi

import "nucleus/image/store"

// Phase is the stage an Event reports.
type Phase string

// Phases, in the order a pull goes through them.
const (
	Resolving   Phase = "resolving"   // reading the manifest
	Resolved    Phase = "resolved"    // Layers layers, Total bytes (-1: unknown, docker-archive)
	Cached      Phase = "cached"      // a blob already in the store
	Downloading Phase = "downloading" // Done of Total bytes of Layer
	Verified    Phase = "verified"    // Layer complete and its digest checked
	Unpacking   Phase = "unpacking"   // Layer being applied (Options.Unpack)
	Done        Phase = "done"        // the image is recorded
)

// Event is one progress report.
type Event struct {
	Ref         string
	Layer       string // digest, "" for the image as a whole
	Done, Total int64
	Phase       Phase
	// Layers is the image's layer count, with Resolved, so that a
	// display can say "2/5 layers" before every layer has started.
	Layers int
}

// Options tune a pull through the helper.
type Options struct {
	// Progress gets events, one at a time.
	Progress func(Event)
	// Platform chosen from an index, "os/arch[/variant]"; default the
	// host's.
	Platform string
	// Unpack also unpacks the image's tree while its layers arrive.
	Unpack bool
}

// Request is what nucleus writes on nucleus-image's standard input.
type Request struct {
	// Op is "pull" (Ref into the store) or "tree" (unpack Image's tree).
	Op string
	// DataRoot is the data root whose store (store.Open) is used.
	DataRoot string
	Ref      string       `json:",omitempty"` // pull: a canonical reference (ref.Ref.String)
	Platform string       `json:",omitempty"`
	Unpack   bool         `json:",omitempty"`
	Image    *store.Image `json:",omitempty"` // tree
}

// Reply is one line nucleus-image writes on its standard output: events
// while it works, then the image (pull) or the tree (tree), or an error.
type Reply struct {
	Event *Event       `json:",omitempty"`
	Image *store.Image `json:",omitempty"`
	Tree  string       `json:",omitempty"`
	Error string       `json:",omitempty"`
}
