package cgroups

// V2Host reports whether New creates v2 (unified) cgroups on this host. The
// runtime uses it to choose between CLONE_INTO_CGROUP (v2: create the cgroup
// first, the init is born in it) and a migration after clone (v1).
func V2Host() bool { return useV2() }
