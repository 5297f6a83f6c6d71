package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nucleus/internal/sysmonslack"
	"nucleus/reconcile/host"
	"nucleus/reconcile/images"
	"nucleus/reconcile/launch"
	"nucleus/reconcile/oneoff"
	"nucleus/runtime"
	"nucleus/spec"
)

// runProject is the project one-off sandboxes belong to (their uid range).
const runProject = "_run"

type runOptions struct {
	rm       bool
	name     string
	env      []string
	volumes  []string
	memory   string
	cpus     float64
	pids     int64
	user     string
	workdir  string
	rootfs   string
	hostname string
	capAdd   []string
	readOnly bool
	seccomp  string
	landlock string
	userns   string
	networks []string
	publish  []string
	image    string
	pull     string
}

func init() {
	register("run", newRunCmd)
}

func newRunCmd() *cobra.Command {
	var o runOptions
	var sf runServiceFlags
	cmd := &cobra.Command{
		Use:   "run [flags] SERVICE [CMD [ARG...]]  |  run [flags] -- CMD [ARG...]  |  run --image REF [flags] [-- CMD [ARG...]]",
		Short: "Run a command in a new sandbox in the foreground",
		Long: "Run CMD in a new sandbox with the default isolation, stdin/stdout/stderr attached\n" +
			"(a pseudo-terminal when stdin is a terminal), and exit with its exit code\n" +
			"(128+N for signal N, 137 when the memory limit killed it; 125 for a setup error).\n\n" +
			"--network NAME joins a network of the current project (-f, --project-directory and\n" +
			"--project-name select it): the sandbox resolves the project's services by name.\n" +
			"A network that does not exist yet is created for the run and removed after it.\n" +
			"-p/--publish publishes ports like docker run -p; without --network the sandbox\n" +
			"gets a private network that is removed when it exits. A run killed with SIGKILL\n" +
			"cannot clean up; the next `nucleus run` removes what it left behind.\n" +
			"--name may not be a service of the project (its network attachment is the service's).\n\n" +
			"--image REF runs in an image (nginx:1.27, oci:DIR[:TAG], docker-archive:FILE): pulled\n" +
			"when the store lacks it (--pull), its tree is the read-only root (--read-only=false:\n" +
			"a writable tmpfs layer), and its user, working directory, environment, entrypoint\n" +
			"and cmd are defaults the flags override; CMD replaces the image's cmd, --entrypoint\n" +
			"its entrypoint. The tree is kept from image prune until the run exits.\n\n" +
			"On run, -p means --publish (as in docker run): give the project name as\n" +
			"--project-name, before or after \"run\".\n\n" +
			"run SERVICE [CMD...] (the first argument names a service of the project, before any\n" +
			"--): a one-off sandbox with the service's settings (image or host view, environment,\n" +
			"volumes, networks with the project's DNS, limits, security); CMD replaces its command,\n" +
			"-e/-v/--user/--workdir/--entrypoint/-p apply on top. Its ports are published only with\n" +
			"--service-ports. Its dependencies are brought up first (up -d --wait) unless --no-deps.\n" +
			"Removed when it exits (--rm is the only behaviour).",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ep *string
			if cmd.Flags().Changed("entrypoint") {
				v, _ := cmd.Flags().GetString("entrypoint")
				ep = &v
			}
			if p, ok := serviceRunTarget(cmd, args); ok {
				return runServiceCmd(cmd, &o, &sf, p, args, ep)
			}
			return runRun(cmd, &o, args, ep)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVar(&o.rm, "rm", true, "remove everything of the sandbox when it exits (always on: a one-off sandbox leaves nothing; accepted for docker/compose habits)")
	f.StringVar(&o.name, "name", "", "sandbox name (default: run-<random>)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable K=V (repeatable)")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "volume [SOURCE:]TARGET[:ro|rw][,U] (repeatable; U: chown SOURCE to --user)")
	f.StringVar(&o.memory, "memory", "", "memory limit, like 256M")
	f.Float64Var(&o.cpus, "cpus", 0, "CPU quota in cores, like 0.5")
	f.Int64Var(&o.pids, "pids", 0, "maximum number of processes (-1 or unset: no limit)")
	f.StringVarP(&o.user, "user", "u", "", "user U[:G] inside the sandbox")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the sandbox")
	f.StringVar(&o.rootfs, "rootfs", "", "directory to use as the root (default: read-only view of host system directories)")
	f.StringVar(&o.hostname, "hostname", "", "hostname inside the sandbox")
	f.StringArrayVar(&o.capAdd, "cap-add", nil, "capability to keep, like NET_BIND_SERVICE (repeatable)")
	f.BoolVar(&o.readOnly, "read-only", true, "read-only root; --read-only=false gives a writable tmpfs overlay")
	f.StringVar(&o.seccomp, "seccomp", spec.SeccompDefault, "seccomp: default, unconfined or an OCI profile FILE")
	f.StringVar(&o.landlock, "landlock", spec.LandlockDefault, "landlock: default or off")
	f.StringVar(&o.userns, "userns", spec.UserNSPrivate, "user namespace: private or host")
	f.StringArrayVar(&o.networks, "network", nil, "join network NAME of the current project (repeatable)")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish [[HOST_IP:]HOST_PORT:]PORT[/PROTO] (repeatable)")
	f.StringVar(&o.image, "image", "", "run in image REF (NAME[:TAG][@DIGEST], oci:DIR[:TAG], docker-archive:FILE) instead of the host view")
	f.String("entrypoint", "", "replace the image's entrypoint (\"\" clears it); without --image, put in front of CMD")
	f.BoolVar(&sf.noDeps, "no-deps", false, "run SERVICE: do not start the services it depends on")
	f.BoolVar(&sf.servicePorts, "service-ports", false, "run SERVICE: publish the service's ports (otherwise none, as compose run)")
	f.StringVar(&o.pull, "pull", spec.PullMissing, "with --image: missing (pull when not in the store), always, never")
	// The root's persistent --project-name has the shorthand -p, which is
	// --publish here. A local flag of the same name, bound to the same
	// variable, makes cobra skip the inherited one (flags merge by name),
	// so --project-name keeps working before and after "run".
	f.StringVar(&globals.projectName, "project-name", "", "project name for --network (-p is --publish on run)")
	return cmd
}

// runService turns the flags into the service the same YAML would give.
func runService(o *runOptions, args []string) (*spec.Service, error) {
	bad := func(flag string, err error) error {
		return &exitError{code: 125, err: fmt.Errorf("--%s: %w", flag, err)}
	}
	svc := &spec.Service{Name: o.name, Command: args, User: o.user, WorkingDir: o.workdir, Hostname: o.hostname,
		ReadOnly: o.readOnly, Environment: map[string]string{}, StopSignal: "SIGTERM"}
	if len(args) == 0 {
		svc.Command = nil // not given: an image's cmd applies
	}
	for _, e := range o.env {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			v, ok = os.LookupEnv(k) // -e NAME passes the caller's value, like compose
		}
		if k == "" || !ok {
			return nil, bad("env", fmt.Errorf("%q: expected K=V or the name of a set variable", e))
		}
		svc.Environment[k] = v
	}
	if o.memory != "" {
		m, err := spec.ParseByteSize(o.memory)
		if err != nil {
			return nil, bad("memory", err)
		}
		svc.Resources.Memory = m
	}
	// Same ranges as resources.cpus and resources.pids in nucleus.yaml:
	// cpus in (0, 1024], pids -1 (or unset) for no limit.
	if o.cpus != 0 && (o.cpus < 0 || o.cpus > 1024) {
		return nil, bad("cpus", fmt.Errorf("must be more than 0 and at most 1024, got %v", o.cpus))
	}
	if o.pids < -1 {
		return nil, bad("pids", fmt.Errorf("must be a positive limit, or -1 for none; got %d", o.pids))
	}
	svc.Resources.CPUs, svc.Resources.Pids = o.cpus, max(o.pids, 0)
	if o.hostname != "" {
		if err := spec.CheckHostname(o.hostname); err != nil {
			return nil, bad("hostname", err)
		}
	}
	if o.user != "" {
		if err := spec.CheckUser(o.user); err != nil {
			return nil, bad("user", err)
		}
	}
	if o.rootfs != "" {
		abs, err := absDir(o.rootfs)
		if err != nil {
			return nil, bad("rootfs", err)
		}
		svc.Rootfs = abs
	}
	if o.workdir != "" && !strings.HasPrefix(o.workdir, "/") {
		return nil, bad("workdir", fmt.Errorf("%q: must be an absolute path inside the sandbox", o.workdir))
	}
	for _, c := range o.capAdd {
		name, _, err := spec.ParseCapability(c)
		if err != nil {
			return nil, bad("cap-add", err)
		}
		svc.CapAdd = append(svc.CapAdd, name)
	}
	switch o.userns {
	case spec.UserNSPrivate, spec.UserNSHost:
		svc.Security.UserNS = o.userns
	default:
		return nil, bad("userns", fmt.Errorf("%q: expected private or host", o.userns))
	}
	switch o.landlock {
	case spec.LandlockDefault, spec.LandlockOff:
		svc.Security.Landlock.Mode = o.landlock
	default:
		return nil, bad("landlock", fmt.Errorf("%q: expected default or off", o.landlock))
	}
	switch o.seccomp {
	case spec.SeccompDefault, spec.SeccompUnconfined:
		svc.Security.Seccomp = o.seccomp
	default:
		abs, err := absPath(o.seccomp)
		if err != nil {
			return nil, bad("seccomp", err)
		}
		data, err := spec.LoadSeccompProfile(abs)
		if err != nil {
			return nil, bad("seccomp", err)
		}
		svc.Security.Seccomp, svc.Security.SeccompProfile = abs, data
	}
	cwd, _ := os.Getwd()
	for _, v := range o.volumes {
		m, err := spec.ParseVolumeMount(v, cwd)
		if err != nil {
			return nil, bad("volume", err)
		}
		svc.Volumes = append(svc.Volumes, m)
	}
	return svc, nil
}

func runRun(cmd *cobra.Command, o *runOptions, args []string, entrypoint *string) error {
	svc, err := runService(o, args)
	if err != nil {
		return err
	}
	cwd, _ := os.Getwd()
	if err := spec.RunImage(svc, o.image, entrypoint, cwd); err != nil {
		return &exitError{code: 125, err: err}
	}
	if svc.Image != "" {
		if svc.PullPolicy, err = spec.ParsePullPolicy(o.pull); err != nil {
			return &exitError{code: 125, err: fmt.Errorf("--pull: %w", err)}
		}
	}
	if o.name == "" {
		o.name = "run-" + randomHex()
	}
	svc.Name = o.name
	if sysmonQuietable(o) {
		go sysmonslack.Quiet() // off the main thread's path
	}
	return launchRun(cmd, o, svc, "", nil)
}

// sysmonQuietable says whether the one-off form of run (not run SERVICE,
// which may start the dependencies' supervisor and networks) may give Go's
// sysmon a 2 ms timer slack: it then starts no long-lived process but the
// sandbox init, which the runtime gives the caller's slack itself, while a
// network (--network, or -p's private one) brings slirp4netns or pasta,
// which os/exec could start from a thread sysmon made and so with 2 ms.
// As root only: another thread's slack needs CAP_SYS_NICE. The saving:
// run --rm -- /bin/true CPU and context switches
// (bench/results/issue15-runtime.md, clislack).
func sysmonQuietable(o *runOptions) bool {
	return len(o.networks) == 0 && len(o.publish) == 0 && !runtime.Rootless()
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// launchRun runs the one-off sandbox of svc in the foreground and removes
// it; dataProject names the project whose uid range and named volumes
// (volumes) it uses ("": its own).
func launchRun(cmd *cobra.Command, o *runOptions, svc *spec.Service, dataProject string, volumes map[string]*spec.Volume) error {
	printLimitNotices(cmd.ErrOrStderr(), svc)
	root := stateRoot()
	ctx := context.Background()
	netSpec, err := runNetSpec(o, svc)
	if err != nil {
		return err
	}
	// What earlier runs killed with SIGKILL left behind goes first; then
	// this process is recorded as the owner of the sandbox, before anything
	// of it exists that a SIGKILL could leave behind.
	var run *oneoff.Run
	begin := func() error {
		cleaned, err := oneoff.Sweep(ctx, root)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nucleus run: clean up after killed runs: %v\n", err)
		}
		for _, id := range cleaned { // their image leases too
			if err := images.Release(root, id); err != nil {
				fmt.Fprintf(os.Stderr, "nucleus run: clean up after killed run %s: %v\n", id, err)
			}
		}
		r, err := oneoff.Begin(ctx, root, o.name, netSpec)
		run = r
		return err
	}
	// Runs after sb.Remove below: the namespace is gone before the
	// networks are detached and (when this run made them) removed.
	defer func() {
		if run == nil {
			return
		}
		if cerr := run.End(ctx); cerr != nil {
			fmt.Fprintf(os.Stderr, "nucleus run: %v\n", cerr)
		}
	}()
	if svc.Image != "" {
		// The run's owner record is what keeps the image lease alive for
		// image prune (imagelease) until the run ends: it is written
		// while the image is resolved, and before the lease is taken.
		began := make(chan error, 1)
		go func() { began <- begin() }()
		owned := sync.OnceValue(func() error { return <-began })
		resolved, release, err := runImage(ctx, svc, o.name, owned)
		if berr := owned(); berr != nil {
			err = berr
		}
		if err != nil {
			if release != nil {
				release()
			}
			return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
		}
		defer release()
		svc = resolved
	}
	stdinFD := int(os.Stdin.Fd())
	tty := term.IsTerminal(stdinFD)
	if tty {
		if _, ok := svc.Environment["TERM"]; !ok {
			svc.Environment["TERM"] = envOr("TERM", "xterm")
		}
	}
	cfg := host.SandboxConfig(svc, volumes)
	cfg.ID, cfg.Project, cfg.Root, cfg.DataProject = o.name, runProject, root, dataProject
	cfg.Stdin, cfg.Stdout, cfg.Stderr, cfg.Terminal, cfg.DieWithCaller = os.Stdin, os.Stdout, os.Stderr, tty, true
	req := launch.Request{Config: cfg, Service: svc}
	switch {
	case netSpec != nil:
		// The network side shapes the sandbox's config (addresses,
		// resolv.conf, hosts): it is set up before the launch.
		if run == nil {
			if err := begin(); err != nil {
				return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
			}
		}
		run.Net().Apply(svc)
		req.Net = run.Net()
		if runtime.Rootless() {
			// The network's hub is in the project's user namespace: the
			// sandbox joins it (network/rootless_hub.go), under userns:
			// host with a namespace of its own inside (runtime/create.go).
			userns, err := runtime.ProjectUserNS(root, run.Net().Project())
			if err != nil {
				return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
			}
			req.Config.UserNSPath = userns
		}
	case run == nil:
		req.Config.BeforeState = begin // overlaps with the init's start-up
	}
	// Signals that arrive before the workload runs are held, then forwarded.
	// Installing the handlers starts a thread (~1 ms), so it overlaps with
	// the launch; it is complete before the workload starts.
	sigs := make(chan os.Signal, 16)
	sigReady := make(chan struct{})
	go func() {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
		close(sigReady)
	}()
	// No signal.Stop: the process exits when runRun returns, and Stop waits
	// for the signal goroutine to go idle (up to ~1 ms on the exit path).
	var restore func()
	defer func() {
		if restore != nil {
			restore()
		}
	}()
	req.BeforeStart = func(sb *runtime.Sandbox) error {
		if tty {
			resize(sb, stdinFD)
			if st, err := term.MakeRaw(stdinFD); err == nil {
				restore = func() { _ = term.Restore(stdinFD, st) }
			}
		}
		<-sigReady
		return nil
	}
	sb, err := launch.Launch(ctx, req)
	if err != nil {
		return &exitError{code: launchExitCode(err), err: fmt.Errorf("nucleus run: %w", err)}
	}
	go func() {
		for s := range sigs {
			if s == syscall.SIGWINCH {
				resize(sb, stdinFD)
				continue
			}
			_ = sb.Signal(s.(syscall.Signal))
		}
	}()
	st, err := sb.Wait()
	// Whatever --rm says: after exit nothing of a one-off sandbox remains
	// (no process, cgroup, mount, namespace or state entry).
	if rerr := sb.Remove(ctx); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
	}
	limit := "unlimited"
	if m := sb.MemoryLimit(); m > 0 {
		limit = spec.ByteSize(m).String()
	}
	if st.OOMKilled {
		return &exitError{code: 137, err: fmt.Errorf("killed: out of memory (limit %s)", limit)}
	}
	// The OOM killer chose another process (a child): the main one ended
	// on its own, often with a shell's terse "Killed".
	var oom error = fmt.Errorf("")
	if st.OOMKills > 0 {
		oom = fmt.Errorf("a process was killed: out of memory (limit %s)", limit)
	}
	if st.Code != 0 {
		return &exitError{code: st.Code, err: oom}
	}
	if st.OOMKills > 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), oom)
	}
	return nil
}

// launchExitCode is the exit code of a failed launch: like a shell's, 127
// when the command does not exist and 126 when it cannot run; 125 when the
// sandbox could not be set up.
func launchExitCode(err error) int {
	if launch.FailedAt(err) != launch.StepStart {
		return 125
	}
	if msg := err.Error(); strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "not found in $PATH") {
		return 127
	}
	return 126
}

func resize(sb *runtime.Sandbox, fd int) {
	if w, h, err := term.GetSize(fd); err == nil {
		_ = sb.Resize(uint16(h), uint16(w))
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func absPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}

func absDir(p string) (string, error) {
	a, err := absPath(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(a)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", a)
	}
	return a, nil
}
