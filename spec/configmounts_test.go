package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// TestWritableMountOfProjectFilesRefused: a writable bind mount whose source
// is, or is an ancestor of, a file the loader reads or looks for (the YAML
// files, .env, env_files, seccomp profiles, discovery candidates) is refused
// with the position of the volume, the files and the ways out; read-only
// mounts, subdirectories without project files, named volumes and the
// explicit opt-in are allowed. Paths are compared after resolving symlinks
// on both sides.
func TestWritableMountOfProjectFilesRefused(t *testing.T) {
	const head = "services:\n  web:\n    command: [/bin/true]\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		links map[string]string // link (relative to the test dir) -> target ("DIR" is the test dir)
		hard  map[string]string // hard link -> existing file, both relative to the test dir
		yaml  string            // nucleus.yaml in proj/, unless files has it elsewhere
		opts  func(dir string) LoadOptions
		want  []string // substrings of the one error; nil: loads
	}{
		{name: "project dir writable",
			yaml: head + "    volumes: [\".:/app\"]\n",
			want: []string{"nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount \".:/app\" contains the project's own files nucleus.yaml (and .env, nucleus.override.yaml, nucleus.override.yml, read if created), so the sandbox could rewrite its own configuration",
				"mount it read-only (\".:/app:ro\")", "mount a subdirectory that holds no project file",
				"opt in with {type: bind, source: ., target: /app, allow_config_write: true}"}},
		{name: "project dir rw mode",
			yaml: head + "    volumes: [\"./:/app:rw\"]\n",
			want: []string{"services.web.volumes[0]: writable bind mount \"./:/app:rw\"", "(\"./:/app:ro\")"}},
		{name: "project dir read-only", yaml: head + "    volumes: [\".:/app:ro\"]\n"},
		{name: "long form read-only", yaml: head + "    volumes: [{type: bind, source: ., target: /app, read_only: true}]\n"},
		{name: "long form writable",
			yaml: head + "    volumes:\n      - ./data:/data\n      - type: bind\n        source: .\n        target: /app\n",
			want: []string{"nucleus.yaml:6:9: services.web.volumes[1]: writable bind mount \"{type: bind, source: ., target: /app}\"", "mount it read-only (read_only: true)"}},
		{name: "opt-in", yaml: head + "    volumes: [{type: bind, source: ., target: /app, allow_config_write: true}]\n"},
		{name: "opt-in only for bind mounts",
			yaml: head + "    volumes: [{type: tmpfs, target: /t, allow_config_write: true}]\n",
			want: []string{"services.web.volumes[0].allow_config_write: allow_config_write applies only to bind mounts"}},
		{name: "subdirectory without project files", yaml: head + "    volumes: [./data:/data, ./site:/srv]\n",
			files: map[string]string{"proj/site/index.html": "hi"}},
		{name: "named volume and tmpfs", yaml: "volumes: {d: {}}\n" + head + "    volumes: [d:/d, /tmp/x]\n"},
		{name: "ancestor of the project dir",
			yaml: head + "    volumes: [\"..:/up\"]\n",
			want: []string{"writable bind mount \"..:/up\" contains the project's own files nucleus.yaml (and"}},
		{name: "absolute root",
			yaml: head + "    volumes: [\"/:/host\"]\n",
			want: []string{"writable bind mount \"/:/host\" contains"}},
		{name: "the file itself",
			yaml: head + "    volumes: [\"./nucleus.yaml:/etc/app.yaml\"]\n",
			want: []string{"writable bind mount \"./nucleus.yaml:/etc/app.yaml\" contains the project's own file nucleus.yaml,"}},
		{name: "env_file directory",
			files: map[string]string{"proj/conf/web.env": "A=1\n"},
			yaml:  head + "    env_file: ./conf/web.env\n    volumes: [./conf:/conf]\n",
			want:  []string{"writable bind mount \"./conf:/conf\" contains the project's own file conf/web.env,"}},
		{name: "optional env_file not there yet",
			yaml: head + "    env_file: [{path: ./conf/opt.env, required: false}]\n    volumes: [./conf:/conf]\n",
			want: []string{"contains the project's own file conf/opt.env (read if created),"}},
		{name: "env_file of another service",
			files: map[string]string{"proj/conf/db.env": "A=1\n"},
			yaml:  head + "    volumes: [./conf:/conf]\n  db:\n    command: [/bin/true]\n    env_file: ./conf/db.env\n",
			want:  []string{"services.web.volumes[0]: writable bind mount \"./conf:/conf\" contains the project's own file conf/db.env,"}},
		{name: "seccomp profile directory",
			files: map[string]string{"proj/sec/profile.json": `{"defaultAction": "SCMP_ACT_ALLOW"}`},
			yaml:  head + "    security: {seccomp: ./sec/profile.json}\n    volumes: [./sec:/sec]\n",
			want:  []string{"contains the project's own file sec/profile.json,"}},
		{name: ".env outside the files' directory",
			files: map[string]string{"cfg/nucleus.yaml": head + "    volumes: [\".:/app\"]\n", "proj/data/x": ""},
			opts: func(dir string) LoadOptions {
				return LoadOptions{Files: []string{filepath.Join(dir, "cfg/nucleus.yaml")}, ProjectDir: filepath.Join(dir, "proj")}
			},
			want: []string{"cfg/nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount \".:/app\" contains the project's own file .env (read if created),"}},
		{name: "override in another directory",
			files: map[string]string{"over/extra.yaml": "services: {web: {environment: {A: b}}}\n"},
			yaml:  head + "    volumes: [\"../over:/o\"]\n",
			opts: func(dir string) LoadOptions {
				return LoadOptions{Files: []string{filepath.Join(dir, "proj/nucleus.yaml"), filepath.Join(dir, "over/extra.yaml")}}
			},
			want: []string{"contains the project's own file " + "OVER/extra.yaml,"}},
		{name: "discovery candidate between working dir and project",
			files: map[string]string{"proj/sub/deeper/.keep": ""},
			yaml:  head + "    volumes: [./sub:/s]\n",
			opts: func(dir string) LoadOptions {
				return LoadOptions{WorkingDir: filepath.Join(dir, "proj/sub/deeper")}
			},
			want: []string{"contains the project's own files sub/deeper/nucleus.yaml, sub/deeper/nucleus.yml, sub/nucleus.yaml and 1 more (read if created),"}},
		{name: "source is a symlink to the project dir",
			links: map[string]string{"proj/link": "DIR/proj"},
			yaml:  head + "    volumes: [./link:/app]\n",
			want:  []string{"writable bind mount \"./link:/app\" (source resolves to DIR/proj) contains the project's own files nucleus.yaml (and .env"}},
		{name: "source below a symlinked directory",
			links: map[string]string{"proj/up": "DIR"},
			yaml:  head + "    volumes: [./up/proj:/app]\n",
			want:  []string{"(source resolves to DIR/proj) contains"}},
		{name: "project file is a symlink into a writable directory",
			files: map[string]string{"shared/real.yaml": head + "    volumes: [../shared:/s]\n"},
			links: map[string]string{"proj/nucleus.yaml": "DIR/shared/real.yaml"},
			want:  []string{"writable bind mount \"../shared:/s\" contains the project's own file nucleus.yaml,"}},
		{name: "hard link to the project file",
			yaml: head + "    volumes: [./app.yaml:/etc/app.yaml]\n",
			hard: map[string]string{"proj/app.yaml": "proj/nucleus.yaml"},
			want: []string{"writable bind mount \"./app.yaml:/etc/app.yaml\" (source is DIR/proj/nucleus.yaml by another path) contains the project's own file nucleus.yaml,"}},
		{name: "symlink pointing elsewhere is fine",
			links: map[string]string{"proj/elsewhere": "DIR/other"},
			files: map[string]string{"other/x": ""},
			yaml:  head + "    volumes: [./elsewhere:/e]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := realTempDir(t)
			files := map[string]string{"proj/data/.keep": ""}
			for k, v := range tc.files {
				files[k] = v
			}
			if tc.yaml != "" {
				files["proj/nucleus.yaml"] = tc.yaml
			}
			testutil.WriteFiles(t, dir, files)
			makeLinks(t, dir, tc.links)
			for link, target := range tc.hard {
				if err := os.Link(filepath.Join(dir, target), filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			opts := LoadOptions{WorkingDir: filepath.Join(dir, "proj")}
			if tc.opts != nil {
				opts = tc.opts(dir)
			}
			opts.Environ = map[string]string{}
			_, err := Load(opts)
			checkOneLoadError(t, err, tc.want, dir)
		})
	}
}

// TestWritableMountOfProjectDirByHostBindMount: the project directory
// shown by the host at a second path (a bind mount on the host) is the same
// directory; its real path alone would not tell.
func TestWritableMountOfProjectDirByHostBindMount(t *testing.T) {
	dir := realTempDir(t)
	proj, alias := filepath.Join(dir, "proj"), filepath.Join(dir, "alias")
	bindAt(t, proj, alias)
	yaml := "services:\n  web:\n    command: [/bin/true]\n    volumes: [" + alias + ":/app]\n"
	testutil.WriteFile(t, filepath.Join(proj, "nucleus.yaml"), yaml)
	_, err := Load(LoadOptions{WorkingDir: proj, Environ: map[string]string{}})
	want := "writable bind mount \"" + alias + ":/app\" (source is " + proj + " by another path) contains the project's own files nucleus.yaml"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant it to say %q", err, want)
	}
}

// TestConfigMountOptInNormalises: the opt-in survives normalisation (so
// `nucleus config` output loads again) and does not change the hash.
func TestConfigMountOptInNormalises(t *testing.T) {
	p, err := loadString(t, "services:\n  web:\n    command: [/bin/true]\n    volumes: [{type: bind, source: ., target: /app, allow_config_write: true}]\n")
	if err != nil {
		t.Fatal(err)
	}
	m := p.Services["web"].Volumes[0]
	if !m.AllowConfigWrite || m.ReadOnly || m.Type != MountBind {
		t.Fatalf("mount = %+v, want a writable bind with the opt-in", m)
	}
	plain := *p.Services["web"]
	plain.Volumes = []VolumeMount{m}
	plain.Volumes[0].AllowConfigWrite = false
	if ServiceHash(&plain) != ServiceHash(p.Services["web"]) {
		t.Errorf("allow_config_write changed the hash")
	}
}
