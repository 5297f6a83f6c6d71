package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/daemon"
)

func init() { register("daemon", newDaemonCmd) }

func newDaemonCmd() *cobra.Command {
	var (
		watch    string
		rescan   time.Duration
		debounce time.Duration
		policy   daemon.Policy
	)
	cmd := &cobra.Command{
		Use:   "daemon --watch DIR",
		Short: "Reconcile every project under a directory tree (GitOps)",
		Long: "Every directory under DIR holding a nucleus.yaml (or nucleus.yml) is a project: a new one is\n" +
			"brought up, a changed one reconciled, a removed one brought down. If the tree suddenly holds\n" +
			"no project at all, nothing is pruned. SIGHUP reloads every project; SIGTERM/SIGINT stop the\n" +
			"daemon and leave the services running (the next daemon adopts them). See `nucleus status`.\n\n" +
			"Trust: the daemon applies what the repository says with host privileges. By default it refuses\n" +
			"(status Stalled, PolicyDenied, naming FILE:LINE:COL and the field) services with userns: host,\n" +
			"seccomp: unconfined, landlock: off, a dangerous cap_add (SYS_ADMIN, SYS_MODULE, SYS_PTRACE,\n" +
			"SYS_RAWIO, NET_ADMIN, NET_RAW, BPF, PERFMON, SYS_BOOT, MAC_ADMIN, DAC_READ_SEARCH, ...), a bind\n" +
			"volume with :U (chown: true), or a bind source, rootfs, env_file or seccomp profile outside the\n" +
			"project directory (symlinks resolved). --allow-privileged and --allow-host-path PREFIX lift\n" +
			"these; `nucleus up` has no such policy. A writable bind mount of the project's own files or of\n" +
			"the git repository that delivers them (allow_config_write: true) is refused whatever the flags.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch == "" {
				return &exitError{code: 2, err: fmt.Errorf("daemon: --watch DIR is required")}
			}
			if fi, err := os.Stat(watch); err != nil || !fi.IsDir() {
				return &exitError{code: 2, err: fmt.Errorf("daemon: --watch %s: not a directory", watch)}
			}
			for _, pre := range policy.AllowHostPaths {
				if !filepath.IsAbs(pre) {
					return &exitError{code: 2, err: fmt.Errorf("daemon: --allow-host-path %s: an absolute path is expected", pre)}
				}
			}
			d, err := daemon.New(daemon.Options{
				Dir: watch, Root: stateRoot(), Rescan: rescan, Policy: policy,
				Watch: reconcile.WatchOptions{Quiet: debounce},
			})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					slog.Info("SIGHUP: reloading every project")
					d.Reload()
				}
			}()
			return d.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&watch, "watch", "", "directory tree holding the project directories")
	f.DurationVar(&rescan, "rescan", time.Minute, "period of a full rescan of the tree (a safety net; changes are watched)")
	f.DurationVar(&debounce, "debounce", 300*time.Millisecond, "quiet time after a file change before it is applied")
	f.BoolVar(&policy.AllowPrivileged, "allow-privileged", false,
		"let project files ask for userns: host, seccomp: unconfined, landlock: off, dangerous capabilities and :U (chown) of bind sources")
	f.StringArrayVar(&policy.AllowHostPaths, "allow-host-path", nil,
		"let bind sources, rootfs, env_file and seccomp profiles lie under this absolute host path (repeatable; / allows all)")
	return cmd
}
