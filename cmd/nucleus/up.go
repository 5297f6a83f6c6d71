package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/reconcile/host"
	"nucleus/reconcile/images"
	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

func init() { register("up", newUpCmd) }

type upOptions struct {
	detach      bool
	wait        bool
	waitTimeout time.Duration
	noWatch     bool
	// Compose's flags.
	forceRecreate bool
	noDeps        bool
	scale         []string
	abortOnExit   bool
	exitCodeFrom  string
	removeOrphans bool
	flags         reconcile.UpFlags // parsed from the above
}

func newUpCmd() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:               "up [flags] [SERVICE...]",
		ValidArgsFunction: completeServices,
		Short:             "Create and start the project's services, and keep them as the files say",
		Long: "Validate the files, plan and apply: services start in dependency order, independent\n" +
			"ones in parallel. In the foreground the output of every service is streamed with a\n" +
			"`service |` prefix; Ctrl-C stops everything gracefully (a second Ctrl-C kills at once);\n" +
			"the files are watched unless --no-watch; SIGHUP reloads. -d starts a detached supervisor\n" +
			"and returns once the plan is applied (--wait: once every service runs and is healthy).\n" +
			"SERVICE arguments limit the run to those services and their dependencies.\n" +
			"When a supervisor already runs for the project, up asks it to apply the files.\n" +
			"--scale SERVICE=N replaces the file's replicas until the next up. --remove-orphans is\n" +
			"accepted for habit: up always removes the replicas of services no longer in the files.",
		RunE: func(cmd *cobra.Command, args []string) error { return runUp(cmd, &o, args) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.detach, "detach", "d", false, "run the supervisor in the background")
	f.BoolVar(&o.wait, "wait", false, "wait until every service runs and is healthy (implies -d)")
	f.DurationVar(&o.waitTimeout, "wait-timeout", 2*time.Minute, "with --wait: give up after this long (exit code 1)")
	f.BoolVar(&o.noWatch, "no-watch", false, "do not reload when the project files change")
	f.BoolVar(&o.forceRecreate, "force-recreate", false, "restart the running replicas of the services even if their configuration did not change")
	f.BoolVar(&o.noDeps, "no-deps", false, "with SERVICE arguments: do not start the services they depend on")
	f.StringArrayVar(&o.scale, "scale", nil, "SERVICE=N: run N replicas of SERVICE instead of the file's replicas, until the next up (repeatable)")
	f.BoolVar(&o.abortOnExit, "abort-on-container-exit", false, "foreground: stop everything when any replica exits, and exit with its exit code")
	f.StringVar(&o.exitCodeFrom, "exit-code-from", "", "foreground: exit with this service's exit code (implies --abort-on-container-exit)")
	f.BoolVar(&o.removeOrphans, "remove-orphans", false, "accepted for habit: up always removes replicas of services no longer in the files")
	_ = cmd.RegisterFlagCompletionFunc("exit-code-from", completeService)
	_ = cmd.RegisterFlagCompletionFunc("scale", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names, _ := completeServices(cmd, nil, toComplete)
		for i := range names {
			names[i] += "="
		}
		return names, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func runUp(cmd *cobra.Command, o *upOptions, services []string) error {
	createBindSources = true
	globals.services = services // a named service runs whatever its profiles
	p, err := loadProject()
	if err != nil {
		return err
	}
	o.detach = o.detach || o.wait // like compose: --wait implies -d
	printLimitNotices(cmd.ErrOrStderr(), projectServices(p)...)
	if o.detach && slices.Contains(globals.files, "-") {
		return &exitError{code: 2, err: errors.New("up -d: -f - cannot be used: the detached supervisor reloads the project from its files, and standard input is read once; write it to a file and name that with -f")}
	}
	if err := rootlessIDs(); err != nil {
		return err
	}
	if err := rootlessTun(p); err != nil {
		return err
	}
	sel, err := reconcile.SelectServices(p, services)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	// The ports of the services this up starts: `up db` (or run's start
	// of its dependencies) is not refused for a port only web publishes.
	if err := rootlessPorts(sel); err != nil {
		return err
	}
	if err := o.parseFlags(p); err != nil {
		return &exitError{code: 2, err: err}
	}
	if o.noDeps { // wait for and pull the named services alone
		if sel, err = reconcile.SelectOnly(p, services); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	ctx := context.Background()
	if o.wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.waitTimeout)
		defer cancel()
	}
	root := stateRoot()
	// Images first: a pull that fails starts nothing, and a running
	// supervisor then finds them in the store.
	if err := images.PullForUp(ctx, root, sel, cmd.ErrOrStderr(), imageKeyAt(p)); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("pull: %w", err)}
	}
	c, err := api.Dial(root, p.Name)
	switch {
	case err == nil:
		fmt.Fprintf(cmd.ErrOrStderr(), "supervisor of %s is running (pid %d): applying the files\n", p.Name, c.PID)
	case !errors.Is(err, api.ErrNoSupervisor):
		return err
	case !o.detach:
		return upForeground(cmd, o, p, services)
	default:
		if c, err = startSupervisor(cmd, o, p, services); err != nil {
			return err
		}
	}
	res, err := c.ApplyWith(ctx, services, o.flags, p.ActiveProfiles)
	if errors.Is(err, api.ErrNoSupervisor) && o.detach {
		// The running supervisor went away meanwhile (killed): start one.
		if c, err = startSupervisor(cmd, o, p, services); err != nil {
			return err
		}
		res, err = c.ApplyWith(ctx, services, o.flags, p.ActiveProfiles)
	}
	if err != nil {
		if o.wait && ctx.Err() != nil {
			// The pass did not end in time: say what is not ready, not
			// only that the request timed out.
			return &exitError{code: 1, err: fmt.Errorf("up --wait: the supervisor's pass did not finish within %s (%v); %s",
				o.waitTimeout, err, api.NotReadyNow(root, sel))}
		}
		return err
	}
	if err := printApply(cmd.OutOrStdout(), res); err != nil {
		if o.wait && res.ApplyError != "" {
			// A start that failed for good says which replica and why.
			if werr := api.WillNotRun(ctx, root, sel); werr != nil {
				return &exitError{code: 1, err: fmt.Errorf("up --wait: %w", werr)}
			}
		}
		return err
	}
	if o.wait {
		if err := api.WaitReady(ctx, root, sel); err != nil {
			if errors.Is(err, api.ErrWillNotRun) {
				return &exitError{code: 1, err: fmt.Errorf("up --wait: %w", err)}
			}
			return &exitError{code: 1, err: fmt.Errorf("up --wait: %w after %s", err, o.waitTimeout)}
		}
	}
	return nil
}

// printApply prints the steps of the pass and turns its errors into the
// command's error.
func printApply(w io.Writer, res *api.ApplyResponse) error {
	for _, s := range res.Steps {
		fmt.Fprintln(w, s.String())
	}
	if res.LoadError != "" {
		return &exitError{code: 2, err: fmt.Errorf("the files do not load (the last good configuration keeps running):\n%s", res.LoadError)}
	}
	if res.ApplyError != "" {
		return &exitError{code: 1, err: fmt.Errorf("apply: %s", res.ApplyError)}
	}
	return nil
}

// startSupervisor starts `nucleus supervise` in its own session, its output
// going to its log file under the state root, and connects to it.
func startSupervisor(cmd *cobra.Command, o *upOptions, p *spec.Project, services []string) (*api.Client, error) {
	root := stateRoot()
	if err := os.MkdirAll(api.Dir(root), 0o700); err != nil {
		return nil, err
	}
	logPath := api.LogPath(root, p.Name)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("supervisor log: %w", err)
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append(superviseGlobals(p), "supervise")
	if o.noWatch {
		args = append(args, "--no-watch")
	}
	if o.noDeps {
		args = append(args, "--no-deps")
	}
	args = append(args, scaleArgs(o.flags.Scale)...)
	for _, s := range services {
		args = append(args, "--service", s)
	}
	sup := exec.Command(exe, args...)
	sup.Stdout, sup.Stderr = logf, logf
	sup.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sup.Start(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sup.Wait() }()
	// The supervisor we just started is alive until exited says otherwise:
	// give it time to open its socket, whatever Dial's error (on a host
	// short of CPU and page cache its start took over Dial's own 5 s once,
	// and up gave up on a supervisor that then ran on without a client).
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("supervisor exited at start (%v); its log %s says:\n%s", err, logPath, tail(logPath, 20))
		default:
		}
		c, err := api.Dial(root, p.Name)
		if err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "started supervisor of %s (pid %d, log %s)\n", p.Name, sup.Process.Pid, logPath)
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("supervisor did not come up: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// superviseGlobals are the global flags for the detached supervisor, with
// paths made absolute and the project name fixed.
func superviseGlobals(p *spec.Project) []string {
	abs := func(s string) string {
		if a, err := filepath.Abs(s); err == nil {
			return a
		}
		return s
	}
	args := []string{"--project-name", p.Name, "--log-level", globals.logLevel,
		"--cgroup-manager", string(cgroups.CurrentManager())}
	if globals.root != "" {
		args = append(args, "--root", abs(globals.root))
	}
	for _, f := range globals.files {
		args = append(args, "--file", abs(f))
	}
	if globals.projectDir != "" {
		args = append(args, "--project-directory", abs(globals.projectDir))
	}
	// The profiles in force now (flags or environment) stay in force for
	// the supervisor's every reload.
	for _, pr := range p.ActiveProfiles {
		args = append(args, "--profile", pr)
	}
	return args
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// upForeground runs the supervisor in this process, streaming the output.
func upForeground(cmd *cobra.Command, o *upOptions, p *spec.Project, services []string) error {
	root := stateRoot()
	stderr := cmd.ErrOrStderr()
	// The profiles in force now stay so for every reload, whatever
	// happens to the environment's .env meanwhile.
	addSelection(p.ActiveProfiles, nil)
	in, err := api.Start(api.Options{
		Root: root, Project: p.Name, Services: services, Up: true, Watch: !o.noWatch, UpFlags: o.flags,
		Load: reloadProject, Select: addSelection,
		OnStep: func(st reconcile.Step, done bool, err error) {
			switch {
			case !done:
				fmt.Fprintf(stderr, "[+] %s ...\n", st)
			case err != nil && reconcile.WithoutWaiting(err) == nil:
				fmt.Fprintf(stderr, "[…] %s: %v\n", stepHead(st), err)
			case err != nil:
				fmt.Fprintf(stderr, "[!] %s: %v\n", stepHead(st), err)
			default:
				fmt.Fprintf(stderr, "[✓] %s\n", stepHead(st))
			}
		},
		OnPass: func(res reconcile.PassResult) {
			if res.LoadErr != nil {
				fmt.Fprintf(stderr, "[!] the files do not load; the last good configuration keeps running:\n%v\n", res.LoadErr)
			}
		},
	})
	var running *api.ErrRunning
	if errors.As(err, &running) {
		return &exitError{code: 1, err: err}
	}
	if err != nil {
		return err
	}
	defer in.Close()

	printer := newLogPrinter(os.Stdout, false)
	logCtx, stopLogs := context.WithCancel(context.Background())
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		_ = host.Follow(logCtx, root, p.Name, host.FollowOptions{Services: services, FromEnd: true}, printer.print)
	}()

	runCtx, stopRun := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	interrupts := 0
	go func() {
		for s := range sigs {
			if s == syscall.SIGHUP {
				in.Reload()
				continue
			}
			interrupts++
			if interrupts == 1 {
				fmt.Fprintln(stderr, "\nstopping (press Ctrl-C again to kill at once)")
				stopRun()
			} else {
				fmt.Fprintln(stderr, "killing")
				in.Supervisor().Hurry()
			}
		}
	}()
	var watch *exitWatch
	if o.abortOnExit {
		watch = &exitWatch{since: time.Now(), from: o.exitCodeFrom, alive: map[string]bool{}}
		go watchExits(runCtx, in, watch, stderr, stopRun)
	}
	runErr := in.Run(runCtx)
	if runErr != nil && !errors.Is(runErr, api.ErrDown) {
		stopLogs()
		<-logsDone
		return runErr // nothing was started: leave what ran before alone
	}
	if errors.Is(runErr, api.ErrDown) {
		// `nucleus down` from another terminal took it down.
		stopLogs()
		<-logsDone
		return nil
	}
	downErr := in.Down(context.Background(), api.DownOptions{})
	// Let the last lines of the stopping services through.
	time.Sleep(250 * time.Millisecond)
	stopLogs()
	<-logsDone
	if downErr != nil {
		return downErr
	}
	fmt.Fprintf(stderr, "project %s stopped and removed\n", p.Name)
	if o.abortOnExit && o.exitCodeFrom == "" && watch.hitCode != nil && *watch.hitCode != 0 {
		// As Compose: the exit code of the replica whose exit ended the run.
		return &exitError{code: *watch.hitCode}
	}
	if o.exitCodeFrom != "" {
		if watch.fromCode == nil {
			return &exitError{code: 1, err: fmt.Errorf("--exit-code-from %s: it did not exit by itself; another replica's exit or Ctrl-C stopped the project", o.exitCodeFrom)}
		}
		if *watch.fromCode != 0 {
			return &exitError{code: *watch.fromCode}
		}
	}
	return nil
}

// parseFlags checks Compose's flags against the project and fills o.flags.
func (o *upOptions) parseFlags(p *spec.Project) error {
	scale, err := parseScale(o.scale)
	if err != nil {
		return err
	}
	if err := reconcile.CheckScale(p, scale); err != nil {
		return err
	}
	if o.exitCodeFrom != "" {
		if p.Services[o.exitCodeFrom] == nil {
			return fmt.Errorf("--exit-code-from %s: no such service in project %s (services: %s)", o.exitCodeFrom, p.Name, strings.Join(serviceNames(p), ", "))
		}
		o.abortOnExit = true
	}
	if o.abortOnExit && o.detach {
		return fmt.Errorf("--abort-on-container-exit and --exit-code-from need up in the foreground; leave out -d and --wait")
	}
	// Asked now: replicas a supervisor started for this up are not recreated again.
	o.flags = reconcile.UpFlags{ForceRecreate: o.forceRecreate, NoDeps: o.noDeps, Scale: scale, Asked: time.Now()}
	return nil
}

// stepHead is a step without its causes: "start web".
func stepHead(st reconcile.Step) string {
	h, _, _ := strings.Cut(st.String(), ":")
	return h
}
