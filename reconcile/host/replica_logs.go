package host

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"nucleus/internal/rootdir"
	"nucleus/runtime"
)

// ReplicaLogDir is where a replica's output is kept (runtime.Config.LogDir):
// in the project's record directory (reconcile.Store keeps it at
// Run/projects/<project>), so the log outlives the replica's sandboxes —
// every incarnation appends to it — and goes with the project's records at
// `down`.
func ReplicaLogDir(root rootdir.Root, project, replica string) string {
	return filepath.Join(root.Run, "projects", project, "logs", replica)
}

// loggedReplicas lists the replicas of project that have a log directory,
// with their service: "web-1" -> "web".
func loggedReplicas(root rootdir.Root, project string) map[string]string {
	ents, err := os.ReadDir(filepath.Dir(ReplicaLogDir(root, project, "x")))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, e := range ents {
		i := strings.LastIndexByte(e.Name(), '-')
		if !e.IsDir() || i <= 0 {
			continue
		}
		if _, err := strconv.Atoi(e.Name()[i+1:]); err != nil {
			continue
		}
		out[e.Name()] = e.Name()[:i]
	}
	return out
}

// replicaLogPath is the current log file of a replica without a record.
func replicaLogPath(root rootdir.Root, project, replica string) string {
	return filepath.Join(ReplicaLogDir(root, project, replica), runtime.LogFile)
}
