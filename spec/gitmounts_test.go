package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestWritableMountOfGitDirRefused: the git repository that delivers the
// project (the first .git found walking up from the project directory — a
// directory, or a "gitdir:" file with its target and that target's common
// dir — and a .git in the project directory even before it exists) is a
// project file: a writable bind mount that is, contains or lies inside it
// is refused with the volume's position, whatever :U says. Without this a
// repository author under `nucleus daemon` could chown the checkout's .git
// to the sandbox (./.git:/g:U) and plant a hook or core.fsmonitor that the
// host's next `git pull` runs as root. Read-only mounts and the explicit
// opt-in load (the daemon's policy refuses the opt-in).
func TestWritableMountOfGitDirRefused(t *testing.T) {
	const head = "services:\n  web:\n    command: [/bin/true]\n"
	const repo = "of the git repository that delivers the project"
	gitDir := map[string]string{"proj/.git/HEAD": "ref: refs/heads/main\n", "proj/.git/config": "[core]\n", "proj/.git/hooks/.keep": ""}
	for _, tc := range []struct {
		name  string
		files map[string]string
		links map[string]string // link (relative to the test dir) -> target ("DIR" is the test dir)
		dir   string            // project directory relative to the test dir ("proj" unless set)
		yaml  string
		want  []string // substrings of the one error; nil: loads
	}{
		{name: ".git with :U (the finding)", files: gitDir,
			yaml: head + "    volumes: [\"./.git:/g:U\"]\n",
			want: []string{"nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount \"./.git:/g:U\" is .git " + repo + ", so the sandbox could rewrite",
				"mount it read-only (\"./.git:/g:ro\")", "opt in with {type: bind, source: ./.git, target: /g, allow_config_write: true}"}},
		{name: ".git long form chown", files: gitDir,
			yaml: head + "    volumes: [{type: bind, source: ./.git, target: /g, chown: true}]\n",
			want: []string{"nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount \"{type: bind, source: ./.git, target: /g}\" is .git " + repo}},
		{name: ".git writable", files: gitDir,
			yaml: head + "    volumes: [\"./.git:/g\"]\n",
			want: []string{"writable bind mount \"./.git:/g\" is .git " + repo}},
		{name: "hooks inside .git", files: gitDir,
			yaml: head + "    volumes: [\"./.git/hooks:/h:U\"]\n",
			want: []string{"writable bind mount \"./.git/hooks:/h:U\" lies inside .git " + repo}},
		{name: ".git/config as a file", files: gitDir,
			yaml: head + "    volumes: [\"./.git/config:/etc/gitconfig\"]\n",
			want: []string{"writable bind mount \"./.git/config:/etc/gitconfig\" lies inside .git " + repo}},
		{name: "project dir with .git names both", files: gitDir,
			yaml: head + "    volumes: [\".:/app\"]\n",
			want: []string{"writable bind mount \".:/app\" contains the project's own files nucleus.yaml (and .env, nucleus.override.yaml, nucleus.override.yml, read if created) and .git " + repo}},
		{name: ".git read-only", files: gitDir, yaml: head + "    volumes: [\"./.git:/g:ro\", \"./.git/hooks:/h:ro\"]\n"},
		{name: ".git opt-in", files: gitDir,
			yaml: head + "    volumes: [{type: bind, source: ./.git, target: /g, chown: true, allow_config_write: true}]\n"},
		{name: "subdirectory beside .git", files: gitDir, yaml: head + "    volumes: [\"./data:/data:U\"]\n"},
		{name: ".git of the repository above",
			files: map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/config": ""},
			yaml:  head + "    volumes: [\"../.git:/g:U\"]\n",
			want:  []string{"writable bind mount \"../.git:/g:U\" is DIR/.git " + repo}},
		{name: "inside the .git of the repository above",
			files: map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/hooks/.keep": ""},
			yaml:  head + "    volumes: [\"../.git/hooks:/h\"]\n",
			want:  []string{"lies inside DIR/.git " + repo}},
		{name: "the repository's .git found above a nested project",
			files: map[string]string{".git/HEAD": "", "proj/sub/.keep": ""}, dir: "proj/sub",
			yaml: head + "    volumes: [\"../../.git:/g\"]\n",
			want: []string{"is DIR/.git " + repo}},
		{name: "submodule .git file (writable file bind of the gitdir pointer)",
			files: map[string]string{"proj/.git": "gitdir: ../super/.git/modules/proj\n", "super/.git/modules/proj/config": "", "super/.git/HEAD": ""},
			yaml:  head + "    volumes: [\"./.git:/gitlink\"]\n",
			want:  []string{"writable bind mount \"./.git:/gitlink\" is .git " + repo}},
		{name: "submodule gitdir target",
			files: map[string]string{"proj/.git": "gitdir: ../super/.git/modules/proj\n", "super/.git/modules/proj/hooks/.keep": ""},
			yaml:  head + "    volumes: [\"../super/.git/modules/proj:/m:U\"]\n",
			want:  []string{"writable bind mount \"../super/.git/modules/proj:/m:U\" is DIR/super/.git/modules/proj " + repo}},
		{name: "submodule gitdir target's parent",
			files: map[string]string{"proj/.git": "gitdir: ../super/.git/modules/proj\n", "super/.git/modules/proj/hooks/.keep": ""},
			yaml:  head + "    volumes: [\"../super/.git:/s\"]\n",
			want:  []string{"writable bind mount \"../super/.git:/s\" contains DIR/super/.git/modules/proj " + repo}},
		{name: "linked work tree's common dir",
			files: map[string]string{"proj/.git": "gitdir: DIR/main/.git/worktrees/proj\n", "main/.git/worktrees/proj/commondir": "../..\n", "main/.git/hooks/.keep": ""},
			yaml:  head + "    volumes: [\"../main/.git/hooks:/h\"]\n",
			want:  []string{"lies inside DIR/main/.git " + repo}},
		{name: ".git reached through a symlink",
			files: gitDir, links: map[string]string{"proj/g": "DIR/proj/.git"},
			yaml: head + "    volumes: [\"./g/hooks:/h\"]\n",
			want: []string{"writable bind mount \"./g/hooks:/h\" (source resolves to DIR/proj/.git/hooks) lies inside .git " + repo}},
		{name: ".git that is a symlink",
			files: map[string]string{"store/HEAD": "", "store/hooks/.keep": ""}, links: map[string]string{"proj/.git": "DIR/store"},
			yaml: head + "    volumes: [\"../store/hooks:/h\"]\n",
			want: []string{"writable bind mount \"../store/hooks:/h\" lies inside .git " + repo}},
		{name: ".git not there yet in the project dir",
			yaml: head + "    volumes: [\"./.git:/g\"]\n",
			want: []string{"writable bind mount \"./.git:/g\" is .git " + repo}},
		{name: "no git: project dir message unchanged",
			yaml: head + "    volumes: [\".:/app\"]\n",
			want: []string{"contains the project's own files nucleus.yaml (and .env, nucleus.override.yaml, nucleus.override.yml, read if created), so the sandbox"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := realTempDir(t)
			proj := "proj"
			if tc.dir != "" {
				proj = tc.dir
			}
			files := map[string]string{proj + "/nucleus.yaml": tc.yaml}
			for k, v := range tc.files {
				files[k] = strings.ReplaceAll(v, "DIR", dir)
			}
			testutil.WriteFiles(t, dir, files)
			makeLinks(t, dir, tc.links)
			_, err := Load(LoadOptions{WorkingDir: filepath.Join(dir, proj), Environ: map[string]string{}})
			checkOneLoadError(t, err, tc.want, dir)
		})
	}
}

// TestWritableMountInsideGitDirByHostBindMount: a directory inside .git
// reached through a second path the host shows it at (a bind mount on the
// host) is still inside .git; its real path alone would not tell.
func TestWritableMountInsideGitDirByHostBindMount(t *testing.T) {
	dir := realTempDir(t)
	proj, alias := filepath.Join(dir, "proj"), filepath.Join(dir, "alias")
	if err := os.MkdirAll(filepath.Join(proj, ".git", "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	bindAt(t, filepath.Join(proj, ".git"), alias)
	yaml := "services:\n  web:\n    command: [/bin/true]\n    volumes: [" + alias + "/hooks:/h:U]\n"
	testutil.WriteFile(t, filepath.Join(proj, "nucleus.yaml"), yaml)
	_, err := Load(LoadOptions{WorkingDir: proj, Environ: map[string]string{}})
	want := "writable bind mount \"" + alias + "/hooks:/h:U\" (source is inside " + filepath.Join(proj, ".git") + " by another path) lies inside .git of the git repository that delivers the project"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant it to say %q", err, want)
	}
}
