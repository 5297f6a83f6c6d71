package network

import (
	"errors"
	"maps"
	"slices"
)

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func joinErrs(errs []error) error { return errors.Join(errs...) }
