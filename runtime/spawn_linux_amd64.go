package runtime

// Implemented in spawn_linux_amd64.s; see spawn_linux.go.
func rawCloneInit(flags, stack, arg uintptr) (pid, errno uintptr)
func rawCloneJoin(flags, stack, arg uintptr) (pid, errno uintptr)
