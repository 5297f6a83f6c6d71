#!/bin/sh
# build-check.sh: what `make build` needs before it compiles anything. Prints
# nothing and exits 0 when all is there; otherwise prints one line naming
# what is missing and the Debian package that brings it, and exits 1.
# It installs nothing: `make deps` does, as root. GO, PKG_CONFIG and CC (as
# cgo reads it, through `go env CC`) may be overridden, as in the Makefile.
GO=${GO:-go}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

if ! command -v "$GO" >/dev/null 2>&1; then
	echo "make build: $GO not found: install Go 1.26 (see README, Requirements)"
	exit 1
fi
missing=""
add() { missing="$missing, $1"; }

# cgo's C compiler, and glibc's static archive (bin/nucleus is linked -static).
cc=$("$GO" env CC 2>/dev/null)
cc=${cc:-gcc}
if command -v "$cc" >/dev/null 2>&1; then
	case $("$cc" -print-file-name=libc.a 2>/dev/null) in
	/*) ;;
	*) add "static glibc libc.a (libc6-dev)" ;;
	esac
else
	add "C compiler $cc (gcc)"
fi

# libseccomp through pkg-config (libseccomp-golang's #cgo pkg-config line),
# and its static archive.
if ! command -v "$PKG_CONFIG" >/dev/null 2>&1; then
	add "$PKG_CONFIG (pkg-config)"
elif ! "$PKG_CONFIG" --exists libseccomp 2>/dev/null; then
	add "libseccomp for $PKG_CONFIG (libseccomp-dev)"
elif [ ! -e "$("$PKG_CONFIG" --variable=libdir libseccomp)/libseccomp.a" ]; then
	add "static libseccomp.a (libseccomp-dev)"
fi

if [ -n "$missing" ]; then
	echo "make build: missing ${missing#, }: run make deps as root (it installs these Debian packages)"
	exit 1
fi
