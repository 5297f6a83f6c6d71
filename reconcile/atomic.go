package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"nucleus/internal/atomicfile"
)

// writeJSONAtomic writes v to path so that a reader (or a crash) sees either
// the old file or the complete new one (atomicfile.Write).
func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}
