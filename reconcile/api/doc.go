// Package api is how CLI commands talk to a project's supervisor: JSON
// over HTTP on a unix socket in the state root (mode 0600, root only).
//
// One supervisor per project: it holds an exclusive flock on
// <Run>/supervisors/<project>.lock for its lifetime (the kernel drops it
// when the process dies, even by SIGKILL), so "is a supervisor running?"
// is answered by the lock, never by the socket file. A socket whose lock is
// free is stale (its supervisor was killed) and is removed.
//
// Instance is the supervisor process itself (the detached `nucleus
// supervise` and the foreground `nucleus up` run the same code); Client is
// the CLI side; Down and Status also work with no supervisor, from the state
// records.
package api
