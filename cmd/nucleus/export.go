package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/compose/composeapi"
	"nucleus/export/k8s"
	"nucleus/image/resolve"
	"nucleus/image/store"
	"nucleus/internal/atomicfile"
	"nucleus/loader"
	"nucleus/reconcile/daemon"
	"nucleus/spec"
)

func init() { register("export", newExportCmd) }

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the project for another engine",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newExportK8sCmd())
	return cmd
}

type exportK8sFlags struct {
	out, format, tree string
	images            []string
	opts              k8s.Options
}

func newExportK8sCmd() *cobra.Command {
	var f exportK8sFlags
	cmd := &cobra.Command{
		Use:   "k8s [-f FILE] [-o DIR|-] [--namespace NS] [--format yaml|kustomize]",
		Short: "Write the project as Kubernetes manifests",
		Long: "Write the project (nucleus.yaml or compose files) as Kubernetes objects: a Deployment (a\n" +
			"StatefulSet with named volumes and several replicas, a Job for a service others wait on to\n" +
			"complete), Services for the name and aliases, NetworkPolicies for networks and egress, probes,\n" +
			"limits and the sandbox's security defaults. One YAML stream on standard output, or with\n" +
			"--format kustomize a directory (-o) of files and a kustomization.yaml; --tree DIR exports every\n" +
			"project of a `nucleus daemon` tree, one kustomization per project. The output is deterministic.\n" +
			"\n" +
			"Images are never pulled: a service's image user and health check are used only when the image\n" +
			"is already in the local store (nucleus pull). What Kubernetes cannot express is a warning on\n" +
			"stderr (FILE:LINE:COL: field: message). Exit 2, writing nothing, when a service cannot be\n" +
			"exported: a host-command service (no image:) has no Kubernetes form.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runExportK8s(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "-", "write to this file (yaml) or directory (kustomize, --tree); - is standard output")
	fl.StringVar(&f.format, "format", "yaml", "yaml (one multi-document stream) or kustomize (a directory with kustomization.yaml)")
	fl.StringVar(&f.tree, "tree", "", "export every project of this directory tree (as nucleus daemon --watch finds them) into -o DIR/PROJECT, with DIR/kustomization.yaml")
	fl.StringVar(&f.opts.Namespace, "namespace", "", "namespace of every object (default: the project's name)")
	fl.StringVar(&f.opts.ServiceType, "service-type", k8s.ServiceNodePort, "type of the Service for ports published beyond 127.0.0.1: ClusterIP, NodePort or LoadBalancer")
	fl.StringVar(&f.opts.VolumeSize, "volume-size", "1Gi", "storage request of a named volume's PersistentVolumeClaim (a volume's size: wins)")
	fl.StringVar(&f.opts.StorageClass, "storage-class", "", "storageClassName of the claims (default: the cluster's default)")
	fl.StringVar(&f.opts.FileBinds, "file-binds", k8s.SourceConfigMap, "where a bind-mounted file goes: configmap or secret")
	fl.StringVar(&f.opts.Env, "env", k8s.SourceInline, "where a service's environment goes: inline, configmap or secret")
	fl.BoolVar(&f.opts.SecretData, "secret-data", false, "write the project's secrets into Secrets (they would end up in git; default: a warning says how to create them)")
	fl.BoolVar(&f.opts.HostUsers, "host-users", false, "leave pods in the host's user namespace (for runtimes without user-namespace support; default hostUsers: false)")
	fl.StringArrayVar(&f.images, "image", nil, "SERVICE=REF: the image the cluster runs for SERVICE (repeatable)")
	return cmd
}

func runExportK8s(cmd *cobra.Command, f *exportK8sFlags) error {
	if err := checkExportFlags(f); err != nil {
		return &exitError{code: 2, err: err}
	}
	stderr := cmd.ErrOrStderr()
	if f.tree != "" {
		return exportTree(f, stderr)
	}
	p, err := loadProject()
	if err != nil {
		return err
	}
	res, header, err := exportProject(p, exportOptions{Options: f.opts}, stderr)
	if err != nil {
		return err
	}
	if printExportWarnings(stderr, res) {
		return &exitError{code: 2, err: errors.New("not exported: the services above have no Kubernetes form")}
	}
	if f.format == "kustomize" {
		files, err := res.Files(header)
		if err != nil {
			return err
		}
		return k8s.WriteDir(f.out, files)
	}
	out, err := res.YAML(header)
	if err != nil {
		return err
	}
	if f.out == "-" {
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	return atomicfile.Write(f.out, out, 0o644)
}

func checkExportFlags(f *exportK8sFlags) error {
	oneOf := func(flag, v string, ok ...string) error {
		for _, o := range ok {
			if v == o {
				return nil
			}
		}
		return fmt.Errorf("--%s %q: want one of %s", flag, v, strings.Join(ok, ", "))
	}
	f.opts.Images = map[string]string{}
	for _, im := range f.images {
		svc, ref, ok := strings.Cut(im, "=")
		if !ok || svc == "" || ref == "" {
			return fmt.Errorf("--image %q: want SERVICE=REF", im)
		}
		f.opts.Images[svc] = ref
	}
	if f.tree != "" && (f.out == "-" || f.out == "") {
		return errors.New("--tree needs -o DIR: each project is written to DIR/PROJECT")
	}
	if f.tree != "" && f.opts.Namespace != "" {
		return errors.New("--tree with --namespace would put every project's objects into one namespace, where their names collide; each project gets its own")
	}
	if f.format == "kustomize" && f.out == "-" {
		return errors.New("--format kustomize needs -o DIR")
	}
	return errors.Join(
		oneOf("format", f.format, "yaml", "kustomize"),
		oneOf("service-type", f.opts.ServiceType, k8s.ServiceClusterIP, k8s.ServiceNodePort, k8s.ServiceLoadBalancer),
		oneOf("file-binds", f.opts.FileBinds, k8s.SourceConfigMap, k8s.SourceSecret),
		oneOf("env", f.opts.Env, k8s.SourceInline, k8s.SourceConfigMap, k8s.SourceSecret),
	)
}

// exportProject resolves what it can of p's images from the local store
// (never pulling) and exports it.
// exportOptions are k8s.Options and how the CLI names the project in its
// notes ("" for one project; "project NAME: " in a tree).
type exportOptions struct {
	k8s.Options
	Project string
}

func exportProject(p *spec.Project, o exportOptions, stderr io.Writer) (*k8s.Result, string, error) {
	p, missing := withLocalImages(p)
	missing = slices.DeleteFunc(missing, func(s string) bool { return o.Images[s] != "" })
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "note: %sthe images of %s are not in the local store: their user and health check are not in the export (nucleus pull first)\n", o.Project, strings.Join(missing, ", "))
	}
	if o.BaseDir == "" {
		o.BaseDir, _ = os.Getwd()
	}
	return k8s.Export(p, o.Options), k8s.Header(p), nil
}

// withLocalImages is p with the config of every image the local store
// already has merged into its services (their user, command and health
// check), and the services whose image it lacks. It creates nothing: no
// store, no pull.
func withLocalImages(p *spec.Project) (*spec.Project, []string) {
	data := stateRoot().Data
	var images []string
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if p.Services[name].Image != "" {
			images = append(images, name)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "images", "refs")); err != nil {
		return p, images
	}
	st, err := store.Open(data)
	if err != nil {
		return p, images
	}
	return (&resolve.Resolver{Store: st}).Present(p)
}

// printExportWarnings prints one line per warning; true when a service
// could not be exported.
func printExportWarnings(w io.Writer, r *k8s.Result) bool {
	for _, x := range r.Warnings {
		kind := "warning: "
		if x.Error {
			kind = "error: "
		}
		fmt.Fprintln(w, kind+x.String())
	}
	return r.Failed()
}

// exportTree exports every project of a daemon tree into out/PROJECT and
// writes out/kustomization.yaml naming them.
func exportTree(f *exportK8sFlags, stderr io.Writer) error {
	dirs, err := daemon.Scan(f.tree)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	type done struct {
		name  string
		files map[string][]byte
	}
	var all []done
	failed := false
	used := map[string]bool{}
	for _, dir := range dirs {
		p, err := loader.Load(loader.Options{
			LoadOptions: spec.LoadOptions{Files: daemon.ProjectFiles(dir), WorkingDir: dir},
			Warn:        func(w composeapi.Warning) { fmt.Fprintln(stderr, "warning: "+w.String()) },
		})
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("%s: %w", dir, err)}
		}
		// --image applies to every project that has the service.
		o := f.opts
		o.Images = map[string]string{}
		for svc, ref := range f.opts.Images {
			if p.Services[svc] != nil {
				o.Images[svc], used[svc] = ref, true
			}
		}
		res, header, err := exportProject(p, exportOptions{Options: o, Project: "project " + p.Name + ": "}, stderr)
		if err != nil {
			return err
		}
		if printExportWarnings(stderr, res) {
			failed = true
			continue
		}
		files, err := res.Files(header)
		if err != nil {
			return err
		}
		all = append(all, done{name: p.Name, files: files})
	}
	for _, svc := range slices.Sorted(maps.Keys(f.opts.Images)) {
		if !used[svc] {
			fmt.Fprintf(stderr, "warning: --image %s=%s: no project of the tree has a service %s\n", svc, f.opts.Images[svc], svc)
		}
	}
	if failed {
		return &exitError{code: 2, err: errors.New("not exported: the services above have no Kubernetes form")}
	}
	var names []string
	for _, d := range all {
		if err := k8s.WriteDir(filepath.Join(f.out, d.name), d.files); err != nil {
			return err
		}
		names = append(names, d.name)
	}
	top, err := k8s.TreeKustomization("# Generated by `nucleus export k8s --tree`: one directory per project.\n", names)
	if err != nil {
		return err
	}
	return k8s.WriteDir(f.out, map[string][]byte{"kustomization.yaml": top})
}
