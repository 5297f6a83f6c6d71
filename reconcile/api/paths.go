package api

import (
	"path/filepath"

	"nucleus/internal/rootdir"
)

// Dir holds the supervisors' sockets, locks and log files.
func Dir(root rootdir.Root) string { return filepath.Join(root.Run, "supervisors") }

// SocketPath is the API socket of a project's supervisor.
func SocketPath(root rootdir.Root, project string) string {
	return filepath.Join(Dir(root), project+".sock")
}

// LockPath is the file whose flock marks a running supervisor.
func LockPath(root rootdir.Root, project string) string {
	return filepath.Join(Dir(root), project+".lock")
}

// LogPath is the log file of a detached supervisor.
func LogPath(root rootdir.Root, project string) string {
	return filepath.Join(Dir(root), project+".log")
}
