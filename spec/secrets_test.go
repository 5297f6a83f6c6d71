package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretsAndConfigsForms(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"nucleus.yaml": `
secrets:
  db_pw: {file: ./pw.txt}
  token: {environment: TOKEN}
configs:
  app: {file: conf/app.ini}
  inline: {content: "a=1\n"}
services:
  web:
    command: [x]
    secrets:
      - db_pw
      - {source: token, target: tok, uid: "1000", gid: 1001, mode: 0400}
      - {source: db_pw, target: /etc/pw}
    configs:
      - app
      - {source: inline, target: /etc/inline.conf, mode: "0o640"}
`,
		"pw.txt":       "hunter2",
		"conf/app.ini": "[app]\n",
	}, map[string]string{"TOKEN": "t0k"})
	got := p.Services["web"]
	want := []FileMount{
		{Source: "db_pw", Target: "/run/secrets/db_pw", Mode: 0o444, Data: []byte("hunter2")},
		{Source: "token", Target: "/run/secrets/tok", UID: 1000, GID: 1001, Mode: 0o400, Data: []byte("t0k")},
		{Source: "db_pw", Target: "/etc/pw", Mode: 0o444, Data: []byte("hunter2")},
	}
	if !reflect.DeepEqual(got.Secrets, want) {
		t.Errorf("secrets:\n got %+v\nwant %+v", got.Secrets, want)
	}
	wantC := []FileMount{
		{Source: "app", Target: "/app", Mode: 0o444, Data: []byte("[app]\n")},
		{Source: "inline", Target: "/etc/inline.conf", Mode: 0o640, Data: []byte("a=1\n")},
	}
	if !reflect.DeepEqual(got.Configs, wantC) {
		t.Errorf("configs:\n got %+v\nwant %+v", got.Configs, wantC)
	}
	if f := p.Secrets["db_pw"].File; f != filepath.Join(p.Dir, "pw.txt") {
		t.Errorf("file = %s, want it resolved against the project directory", f)
	}
	// The secret file is watched: editing it reloads the project.
	found := false
	for _, f := range p.WatchFiles {
		found = found || filepath.Base(f) == "pw.txt"
	}
	if !found {
		t.Errorf("WatchFiles %v lack pw.txt", p.WatchFiles)
	}
	// Printing the model (nucleus config, ps --json) never shows a
	// secret's content; the environment source is shown by name.
	for _, marshal := range []func(any) ([]byte, error){json.Marshal, yaml.Marshal} {
		out, err := marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"hunter2", "t0k"} {
			if strings.Contains(string(out), secret) {
				t.Errorf("printed model shows the secret %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(string(out), "TOKEN") || !strings.Contains(string(out), "0400") {
			t.Errorf("printed model lacks the variable name or the octal mode:\n%s", out)
		}
	}
}

// TestConfigOutputLoadsBack: what nucleus config prints for secrets and
// configs is accepted again and gives the same services.
func TestFileObjectsPrintedLoadBack(t *testing.T) {
	files := map[string]string{
		"nucleus.yaml": `
secrets: {s: {file: s.txt}, e: {environment: E}}
configs: {c: {content: hello}}
services:
  web:
    command: [x]
    secrets: [s, {source: e, target: /e, mode: 0440, uid: 5}]
    configs: [{source: c, target: c.txt}]
    labels: [a=b, c]
    profiles: [p]
`,
		"s.txt": "S",
	}
	env := map[string]string{"E": "env-secret", "NUCLEUS_PROFILES": "p"}
	p := mustLoad(t, files, env)
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	files["nucleus.yaml"] = string(out)
	again := mustLoad(t, files, env)
	if a, b := ServiceHash(p.Services["web"]), ServiceHash(again.Services["web"]); a != b {
		t.Errorf("printed form hashes differently:\n%s", out)
	}
	if !reflect.DeepEqual(again.Services["web"].Labels, map[string]string{"a": "b", "c": ""}) {
		t.Errorf("labels = %v", again.Services["web"].Labels)
	}
}

func TestFileObjectErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown secret", `
secrets: {db_pw: {file: pw.txt}}
services:
  web:
    command: [x]
    secrets: [db_pv]
`, []string{`nucleus.yaml:6:15: services.web.secrets[0]: unknown secret "db_pv"; declare it under the top-level secrets:; did you mean "db_pw"?`}},
		{"unknown config long form", `
services:
  web:
    command: [x]
    configs:
      - {source: nope, target: /x}
`, []string{`nucleus.yaml:6:18: services.web.configs[0]: unknown config "nope"; declare it under the top-level configs:`}},
		{"missing file", `
secrets: {a: {file: missing.txt}}
`, []string{`nucleus.yaml:2:21: secrets.a.file: secret missing.txt: no such file or directory`}},
		{"unset variable", `
secrets: {a: {environment: NOPE}}
`, []string{`nucleus.yaml:2:28: secrets.a.environment: secret a: environment variable NOPE is not set (in the environment or .env)`}},
		{"two sources", `
configs: {a: {content: x, environment: HOME}}
`, []string{`nucleus.yaml:2:14: configs.a: config a needs exactly one of file, environment or content (found 2)`}},
		{"content is for configs", `
secrets: {a: {content: x}}
`, []string{`nucleus.yaml:2:15: secrets.a: unknown key "content"`}},
		{"bad mode", `
configs: {a: {content: x}}
services:
  web: {command: [x], configs: [{source: a, mode: 0999}]}
`, []string{`nucleus.yaml:4:51: services.web.configs[0].mode: invalid mode "0999"`}},
		{"same target twice", `
configs: {a: {content: x}}
secrets: {b: {file: pw.txt}}
services:
  web: {command: [x], configs: [{source: a, target: /run/secrets/b}], secrets: [b]}
`, []string{`nucleus.yaml:5:81: services.web.secrets[0]: /run/secrets/b is already the target of services.web.configs[0]`}},
		{"dot-dot target", `
secrets: {b: {file: pw.txt}}
services:
  web: {command: [x], secrets: [{source: b, target: ../etc/shadow}]}
`, []string{`services.web.secrets[0]: invalid target "../etc/shadow"`}},
		{"labels shape", `
services:
  web: {command: [x], labels: "a=b"}
`, []string{`nucleus.yaml:3:31: services.web.labels: expected a mapping or a list of KEY=VALUE, got "a=b"`}},
		{"profile name", `
services:
  web: {command: [x], profiles: ["-x"]}
`, []string{`nucleus.yaml:3:34: services.web.profiles[0]: invalid profile name "-x"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"nucleus.yaml": c.yaml, "pw.txt": "pw"})
			_, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{"HOME": "/root"}})
			got := errorLines(err)
			if len(got) != len(c.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], w)
				}
			}
		})
	}
}

// TestSecretFileSymlinkRefused: a link in the project directory (which a
// sandbox with a writable bind volume there could plant) is not followed,
// neither as the file nor as a directory on the way.
func TestSecretFileSymlinkRefused(t *testing.T) {
	for _, ref := range []string{"link.txt", "linkdir/pw.txt"} {
		dir := writeFiles(t, map[string]string{
			"nucleus.yaml": "secrets: {a: {file: " + ref + "}}\n",
			"real/pw.txt":  "pw",
		})
		if err := os.Symlink(filepath.Join(dir, "real/pw.txt"), filepath.Join(dir, "link.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "linkdir")); err != nil {
			t.Fatal(err)
		}
		_, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
		if err == nil || !strings.Contains(err.Error(), "symlink, which nucleus does not follow") {
			t.Errorf("%s: err = %v, want the symlink refused", ref, err)
		}
	}
	// A FIFO would block the loader: refused as not a regular file.
	dir := writeFiles(t, map[string]string{"nucleus.yaml": "secrets: {a: {file: fifo}}\n"})
	if err := mkfifo(filepath.Join(dir, "fifo")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: err = %v", err)
	}
}

// TestSecretHashFollowsContent: the hash follows the content, not the
// path; labels and profiles change no hash; Diff never shows content.
func TestSecretHashFollowsContent(t *testing.T) {
	files := map[string]string{
		"nucleus.yaml": "secrets: {s: {file: a.txt}}\nservices:\n  web: {command: [x], secrets: [s]}\n  other: {command: [x]}\n",
		"a.txt":        "one",
		"b.txt":        "one",
	}
	base := mustLoad(t, files, nil)
	noSecret := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  other: {command: [x]}\n"}, nil)
	if ServiceHash(base.Services["other"]) != ServiceHash(noSecret.Services["other"]) {
		t.Error("a service without secrets hashes differently once the project declares one")
	}
	files["nucleus.yaml"] = strings.Replace(files["nucleus.yaml"], "a.txt", "b.txt", 1)
	moved := mustLoad(t, files, nil)
	if ServiceHash(base.Services["web"]) != ServiceHash(moved.Services["web"]) {
		t.Error("moving the secret to another file with the same content changed the hash")
	}
	files["b.txt"] = "two-secret-bytes"
	edited := mustLoad(t, files, nil)
	if ServiceHash(base.Services["web"]) == ServiceHash(edited.Services["web"]) {
		t.Error("editing the secret's content did not change the hash")
	}
	d := Diff(base.Services["web"], edited.Services["web"])
	if len(d) != 1 || d[0].Path != "secrets./run/secrets/s" || d[0].Class != ClassRestart {
		t.Fatalf("Diff = %+v", d)
	}
	for _, c := range d {
		if strings.Contains(c.Old+c.New+c.String(), "one") || strings.Contains(c.Old+c.New+c.String(), "two-secret") {
			t.Errorf("Diff shows the content: %+v", c)
		}
	}
	files["nucleus.yaml"] = strings.Replace(files["nucleus.yaml"], "secrets: [s]}", "secrets: [s], labels: {tier: web}, profiles: [x]}", 1)
	labelled := mustLoad(t, files, map[string]string{"COMPOSE_PROFILES": "x"})
	if ServiceHash(labelled.Services["web"]) != ServiceHash(edited.Services["web"]) {
		t.Error("labels or profiles changed the hash")
	}
	for _, c := range Diff(edited.Services["web"], labelled.Services["web"]) {
		if c.Class != ClassNone {
			t.Errorf("Diff: %s is %s, want none", c.Path, c.Class)
		}
	}
}
