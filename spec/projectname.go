package spec

// NormaliseProjectName reduces s to a project name the way Load does for
// name:, -p and the directory name (lowercase, only [a-z0-9_-], no leading
// '_' or '-'); "" when nothing is left. The GitOps daemon uses it to name a
// project whose files do not load.
func NormaliseProjectName(s string) string { return normaliseProjectName(s) }
