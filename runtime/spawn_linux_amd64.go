package runtime

// errNoSpawn is nil: amd64 has the clone entry (spawn_linux_other.go).
var errNoSpawn error

// Implemented in spawn_linux_amd64.s; see spawn_linux.go.
func rawCloneInit(flags, stack, arg uintptr) (pid, errno uintptr)
func rawCloneJoin(flags, stack, arg uintptr) (pid, errno uintptr)
