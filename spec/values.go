package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"nucleus/internal/capability"
)

// ByteSize is a size in bytes. It prints in the largest exact unit ("256M").
type ByteSize int64

// ParseByteSize accepts a plain byte count or a number with a k/m/g suffix in
// either case, optionally followed by b ("256M", "64mb", "1g", "512k", "1024").
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size; expected a number with an optional k, m or g suffix, like 256M")
	}
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, strings.TrimSuffix(t, "m")
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, strings.TrimSuffix(t, "g")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || t == "" || strings.ContainsAny(t, "eE+-") {
		return 0, fmt.Errorf("invalid size %q; expected a number with an optional k, m or g suffix, like 256M", s)
	}
	v := f * float64(mult)
	if v > 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(v), nil
}

// String prints the size in the largest unit that divides it exactly.
func (b ByteSize) String() string {
	switch {
	case b == 0:
		return "0"
	case b%(1<<30) == 0:
		return strconv.FormatInt(int64(b)>>30, 10) + "G"
	case b%(1<<20) == 0:
		return strconv.FormatInt(int64(b)>>20, 10) + "M"
	case b%(1<<10) == 0:
		return strconv.FormatInt(int64(b)>>10, 10) + "K"
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText prints the human form, so `nucleus config` shows "256M".
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses the human form.
func (b *ByteSize) UnmarshalText(p []byte) error {
	v, err := ParseByteSize(string(p))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is a time.Duration that prints as "10s" and parses Go and
// compose forms ("1m30s", "500ms", "10s", "1h").
type Duration time.Duration

// ParseDuration parses a Go/compose duration. A bare number is rejected
// because its unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q; expected a number with a unit, like 500ms, 10s or 1m30s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q; must not be negative", s)
	}
	return Duration(d), nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText prints the Go form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the Go/compose form.
func (d *Duration) UnmarshalText(p []byte) error {
	v, err := ParseDuration(string(p))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseCapability accepts "NET_ADMIN" or "CAP_NET_ADMIN" (any case) and
// returns the canonical "CAP_NET_ADMIN" name and its number.
func ParseCapability(s string) (string, int, error) { return capability.Parse(s) }
