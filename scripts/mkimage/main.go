// mkimage writes an OCI image layout (or a docker save tarball) of an image
// built from Debian's busybox-static, without a network or a container
// engine: examples/image builds its image with it, and `--synthetic` makes
// the big image of the pull benchmark.
//
//	go run ./scripts/mkimage --out examples/image/oci --tag 1 \
//	    --entrypoint '["/bin/busybox","httpd","-f"]' --cmd '-p 8080 -h /srv' \
//	    --env GREETING=hi --user app --add examples/image/site:srv \
//	    --healthcheck '["CMD","/bin/busybox","wget","-q","-O","/dev/null","http://127.0.0.1:8080/"]'
//	go run ./scripts/mkimage --out /tmp/big --synthetic 200MB --layers 5
//	go run ./scripts/mkimage --scratch --add ./pause:/pause --entrypoint /pause \
//	    --archive pause.tar --archive-ref nucleus.test/pause:1
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"nucleus/image/imagebuild"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	out := fl.String("out", "", "OCI layout directory to write (created, or the image appended)")
	archive := fl.String("archive", "", "also write a docker save tarball at this path")
	tag := fl.String("tag", "latest", "tag: the layout's org.opencontainers.image.ref.name, the archive's repo:tag is image:TAG")
	busybox := fl.String("busybox", imagebuild.BusyboxPath, "static busybox for the base layer")
	scratch := fl.Bool("scratch", false, "no busybox base layer: only the --add layers (e.g. one static binary)")
	archiveRef := fl.String("archive-ref", "", "the archive's image reference (default image:TAG), e.g. nucleus.test/pause:1 for `ctr images import`")
	format := fl.String("format", "oci", "media types: oci or docker")
	uncompressed := fl.Bool("uncompressed", false, "plain tar layers instead of gzip")
	entrypoint := fl.String("entrypoint", "", `Entrypoint: a JSON array or words split on spaces`)
	cmd := fl.String("cmd", "", `Cmd: a JSON array or words split on spaces (default /bin/sh)`)
	user := fl.String("user", "", "User (the base has root and app, uid 999)")
	workdir := fl.String("workdir", "", "WorkingDir")
	stop := fl.String("stop-signal", "", "StopSignal")
	health := fl.String("healthcheck", "", `Healthcheck test, as Docker's HEALTHCHECK: a JSON array like ["CMD","/bin/busybox","true"] or ["CMD-SHELL","script"]`)
	healthInterval := fl.Duration("health-interval", 0, "with --healthcheck: its interval (0: the runner's default)")
	var env, labels, expose, add list
	fl.Var(&env, "env", "KEY=VALUE added to Env (repeatable)")
	fl.Var(&labels, "label", "KEY=VALUE label (repeatable)")
	fl.Var(&expose, "expose", "exposed port, e.g. 8080/tcp (repeatable)")
	fl.Var(&add, "add", "HOSTPATH:IMAGEPATH file or tree copied into a layer of its own (repeatable)")
	synthetic := fl.String("synthetic", "", "instead of busybox: random data of this size (e.g. 200MB, 1GiB), for benchmarks")
	layers := fl.Int("layers", 5, "with --synthetic: number of layers")
	seed := fl.Uint64("seed", 1, "with --synthetic: the same seed gives the same image")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" && *archive == "" {
		return fmt.Errorf("--out or --archive is required")
	}

	var s imagebuild.Spec
	if *synthetic != "" {
		size, err := parseSize(*synthetic)
		if err != nil {
			return fmt.Errorf("--synthetic: %w", err)
		}
		if s.Layers, err = imagebuild.Synthetic(size, *layers, *seed); err != nil {
			return err
		}
	} else if !*scratch {
		var err error
		if s, err = imagebuild.Busybox(*busybox); err != nil {
			return err
		}
	}
	switch *format {
	case "oci":
		s.Format = imagebuild.OCI
	case "docker":
		s.Format = imagebuild.Docker
	default:
		return fmt.Errorf("--format %q: want oci or docker", *format)
	}
	s.Uncompressed = *uncompressed
	for _, a := range add {
		src, dst, ok := strings.Cut(a, ":")
		if !ok || src == "" || strings.Trim(dst, "/") == "" {
			return fmt.Errorf("--add %q: want HOSTPATH:IMAGEPATH", a)
		}
		dst = strings.Trim(dst, "/")
		var parents []imagebuild.Entry
		for d := path.Dir(dst); d != "."; d = path.Dir(d) {
			parents = append([]imagebuild.Entry{imagebuild.Dir(d, 0o755)}, parents...)
		}
		es, err := imagebuild.FromHost(src, dst)
		if err != nil {
			return err
		}
		s.Layers = append(s.Layers, append(parents, es...))
	}

	c := &s.Config
	var err error
	if c.Entrypoint, err = words("--entrypoint", *entrypoint, c.Entrypoint); err != nil {
		return err
	}
	if *entrypoint != "" {
		c.Cmd = nil // as Docker does: a new entrypoint drops the base's Cmd
	}
	if c.Cmd, err = words("--cmd", *cmd, c.Cmd); err != nil {
		return err
	}
	c.Env = append(c.Env, env...)
	c.User, c.WorkingDir, c.StopSignal = *user, *workdir, *stop
	if *health != "" {
		test, err := words("--healthcheck", *health, nil)
		if err != nil {
			return err
		}
		c.Healthcheck = &v1.HealthConfig{Test: test, Interval: *healthInterval}
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("--label %q: want KEY=VALUE", l)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	for _, p := range expose {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[p] = struct{}{}
	}

	img, err := imagebuild.Build(s)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := imagebuild.WriteLayout(*out, img, *tag); err != nil {
			return err
		}
	}
	if *archive != "" {
		ref := *archiveRef
		if ref == "" {
			ref = "image:" + *tag
		}
		if err := imagebuild.WriteArchive(*archive, img, ref); err != nil {
			return err
		}
	}
	return report(img)
}

// report prints the digest and sizes, which the benchmark quotes.
func report(img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	var total int64
	for _, l := range ls {
		n, err := l.Size()
		if err != nil {
			return err
		}
		total += n
	}
	fmt.Printf("%s %d layers %d bytes\n", d, len(ls), total)
	return nil
}

// words reads a JSON array (exact) or space-separated words; "" keeps def.
func words(flagName, s string, def []string) ([]string, error) {
	if s == "" {
		return def, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var w []string
		if err := json.Unmarshal([]byte(s), &w); err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		return w, nil
	}
	return strings.Fields(s), nil
}

// parseSize reads 200MB, 200M, 1GiB, 4096 (bytes; KB/MB/GB are powers of
// 1024 here, as the benchmark's sizes are).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, x := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, x.suf) {
			u, mult = strings.TrimSuffix(u, x.suf), x.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional K, M or G suffix", s)
	}
	return n * mult, nil
}
