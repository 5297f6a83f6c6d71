package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nucleus/reconcile/host"
	"nucleus/runtime"
	"nucleus/spec"
)

func init() { register("exec", newExecCmd) }

func newExecCmd() *cobra.Command {
	var (
		noTTY   bool
		index   int
		env     []string
		workdir string
		user    string
	)
	cmd := &cobra.Command{
		Use:               "exec [flags] SERVICE -- CMD [ARG...]",
		ValidArgsFunction: completeService,
		Short:             "Run a command inside a running service's sandbox",
		Long: "Run CMD inside the running sandbox of SERVICE with the workload's confinement\n" +
			"(namespaces, cgroup, user, capabilities, Landlock, seccomp), with a terminal when\n" +
			"stdin is one (unless -T), and exit with its exit code. Needs no supervisor.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject()
			if err != nil {
				return err
			}
			service, argv := args[0], args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return &exitError{code: 2, err: errors.New("exec: no command given after SERVICE")}
			}
			if p.Services[service] == nil {
				return &exitError{code: 2, err: fmt.Errorf("no service %q in project %s", service, p.Name)}
			}
			if user != "" {
				if err := spec.CheckUser(user); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("exec: --user: %w", err)}
				}
			}
			ec := runtime.ExecConfig{Args: argv, Env: env, Dir: workdir, User: user, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			tty := !noTTY && term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
			var st runtime.ExitStatus
			if tty {
				st, err = execTTY(ctx, p.Name, service, index, ec)
			} else {
				noTerminal(&ec)
				st, err = host.Exec(ctx, stateRoot(), p.Name, service, index, ec)
			}
			if err != nil {
				return err
			}
			if st.Code != 0 {
				return &exitError{code: st.Code, err: errors.New("")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&noTTY, "no-tty", "T", false, "do not allocate a terminal")
	f.IntVar(&index, "index", 1, "replica number")
	f.StringArrayVarP(&env, "env", "e", nil, "extra environment variable K=V (repeatable)")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the sandbox")
	f.StringVarP(&user, "user", "u", "", "run as USER[:GROUP] (name or number) instead of the service's user")
	return cmd
}

// execTTY runs the command on a terminal the sandbox allocates from its own
// devpts (the command's controlling terminal, so job control works); this
// terminal is put in raw mode meanwhile and its size is followed.
func execTTY(ctx context.Context, project, service string, index int, ec runtime.ExecConfig) (runtime.ExitStatus, error) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	ec.Terminal, ec.Stdin, ec.Stdout, ec.Stderr = true, os.Stdin, os.Stdout, nil
	ec.Console = func(master *os.File) {
		_ = pty.InheritSize(os.Stdin, master)
		go func() {
			for range winch {
				_ = pty.InheritSize(os.Stdin, master)
			}
		}()
	}
	if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
		defer term.Restore(int(os.Stdin.Fd()), old)
	}
	return host.Exec(ctx, stateRoot(), project, service, index, ec)
}

// noTerminal hides this process's terminal from the command (-T): the
// runtime then hands it pipes instead of the terminal's fds.
func noTerminal(ec *runtime.ExecConfig) {
	isTerm := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	if isTerm(os.Stdin) {
		ec.Stdin = struct{ io.Reader }{os.Stdin}
	}
	if isTerm(os.Stdout) {
		ec.Stdout = struct{ io.Writer }{os.Stdout}
	}
	if isTerm(os.Stderr) {
		ec.Stderr = struct{ io.Writer }{os.Stderr}
	}
}
