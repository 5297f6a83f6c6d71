package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	files       []string
	projectName string
	projectDir  string
	root        string
	logLevel    string
	cgroupMgr   string
	profiles    []string // --profile, repeatable
	// services are the services a command names (up, supervise): they run
	// whatever their profiles (spec.LoadOptions.Services).
	services []string
}

var globals globalOptions

// subcommand is a command's name and constructor, registered by each
// command's file in init().
type subcommand struct {
	name string
	mk   func() *cobra.Command
}

var subcommands []subcommand

func register(name string, mk func() *cobra.Command) {
	subcommands = append(subcommands, subcommand{name, mk})
}

// newRootCmd builds the command tree for the command line args (without
// the program name). Only the command that args run is built: building
// every command with its flags cost ~0.2 ms of each start (issue 15).
// Args that name no registered command (none, help, completion, a typo)
// get the whole tree.
func newRootCmd(args []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "nucleus",
		Short:         "Supervise sandboxed services declared in nucleus.yaml",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Flags before the subcommand are the root's: `nucleus -f FILE logs`
		// names the file, although -f is --follow after `logs`.
		TraverseChildren: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := setupLogging(globals.logLevel); err != nil {
				return err
			}
			notesWanted = notesCommands[cmd.Name()]
			for _, pr := range globals.profiles {
				if err := spec.CheckProfileName(pr); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--profile: %w", err)}
				}
			}
			if os.Geteuid() != 0 && cmd.Name() != "init" {
				// Rootless: the user's state is private (0700).
				if err := stateRoot().MakePrivate(); err != nil {
					return err
				}
			}
			return setupCgroupManager(globals.cgroupMgr, os.Getenv(cgroups.ManagerEnv))
		},
	}
	f := cmd.PersistentFlags()
	f.StringArrayVarP(&globals.files, "file", "f", nil, "project file (repeatable; later files override earlier ones)")
	f.StringVarP(&globals.projectName, "project-name", "p", "", "project name (default: $NUCLEUS_PROJECT_NAME, name:, or the directory name)")
	f.StringVar(&globals.projectDir, "project-directory", "", "project directory (default: the directory of the first file)")
	f.StringVar(&globals.root, "root", "", "state root (default $"+rootdir.EnvVar+", /run/nucleus and /var/lib/nucleus as root)")
	f.StringArrayVar(&globals.profiles, "profile", nil, "activate a profile (repeatable; default $"+spec.EnvProfiles+" or $"+spec.EnvComposeProfiles+", comma-separated; * activates all)")
	_ = cmd.RegisterFlagCompletionFunc("profile", completeProfiles)
	f.StringVar(&globals.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&globals.cgroupMgr, "cgroup-manager", "", "who creates sandbox cgroups: systemd (a transient scope per sandbox, over D-Bus), cgroupfs (direct) or none (no cgroup: limits not enforced); default $"+cgroups.ManagerEnv+", else as an unprivileged user its own systemd manager where cgroup v2 delegates it a subtree, otherwise none; as root systemd when PID 1 is systemd on a pure cgroup v2 host, else cgroupfs")
	word := commandWord(f, args)
	for _, sc := range subcommands {
		if sc.name == word {
			cmd.AddCommand(sc.mk())
			completeServiceArgs(cmd)
			return cmd
		}
	}
	for _, sc := range subcommands {
		cmd.AddCommand(sc.mk())
	}
	completeServiceArgs(cmd)
	return cmd
}

// commandWord is the first argument that is not a root flag or a root
// flag's value: the command args run ("" when there is none).
func commandWord(root *pflag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case strings.HasPrefix(a, "--"):
			if fl := root.Lookup(a[2:]); fl != nil && !strings.Contains(a, "=") && takesValue(fl) {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			// -fFILE carries its value; -f FILE takes the next argument.
			if fl := root.ShorthandLookup(a[len(a)-1:]); fl != nil && len(a) == 2 && takesValue(fl) {
				i++
			}
		default:
			return a
		}
	}
	return ""
}

// takesValue says whether fl consumes the next argument (--flag VALUE).
func takesValue(fl *pflag.Flag) bool { return fl.NoOptDefVal == "" }

func setupLogging(level string) error {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info", "":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return &exitError{code: 2, err: fmt.Errorf("--log-level: unknown level %q; expected debug, info, warn or error", level)}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
	return nil
}

// setupCgroupManager chooses the cgroup manager: the flag, the environment,
// or the host's default (cgroups.SelectManager).
func setupCgroupManager(flag, env string) error {
	m, err := cgroups.SelectManager(flag, env)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	cgroups.SetManager(m)
	return nil
}

// stateRoot resolves the state root from --root and the environment.
func stateRoot() rootdir.Root { return rootdir.Resolve(globals.root) }
