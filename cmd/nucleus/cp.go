package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/host"
)

func init() { register("cp", newCpCmd) }

func newCpCmd() *cobra.Command {
	var archive bool
	cmd := &cobra.Command{
		Use:   "cp [-a] SERVICE[-N]:SRC DEST  |  cp [-a] SRC SERVICE[-N]:DEST",
		Short: "Copy files and directories between the host and a running replica",
		Long: "Copy a file or a directory (recursively) out of or into a running replica (SERVICE is\n" +
			"replica 1, SERVICE-N replica N). DEST that is a directory receives SRC under its own name.\n" +
			"Copied out: owned by you. Copied in: owned by the sandbox's root, or with -a by the\n" +
			"source's uid/gid inside the sandbox. Paths inside resolve within the sandbox's root\n" +
			"(a symlink there never leads to a host path). Needs no supervisor.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, recs, err := replicaTargets(nil)
			if err != nil {
				return err
			}
			srcRec, src := cpTarget(args[0], recs)
			dstRec, dst := cpTarget(args[1], recs)
			switch {
			case srcRec != nil && dstRec != nil:
				return &exitError{code: 2, err: fmt.Errorf("cp: copying between two replicas is not supported: copy to the host first")}
			case srcRec == nil && dstRec == nil:
				return &exitError{code: 2, err: fmt.Errorf("cp: neither %q nor %q names a replica of project %s as SERVICE[-N]:PATH", args[0], args[1], project)}
			case srcRec != nil:
				err = host.CopyOut(srcRec, src, dst)
			default:
				err = host.CopyIn(stateRoot(), dstRec, src, dst, archive)
			}
			if err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&archive, "archive", "a", false, "copy in keeping uid/gid (shifted into the sandbox's id range)")
	return cmd
}

// cpTarget reads SERVICE:PATH or SERVICE-N:PATH naming one of recs; a host
// path gives a nil record (so does a local path holding a colon, like
// ./a:b, which starts with . or /).
func cpTarget(arg string, recs []*reconcile.SandboxRecord) (*reconcile.SandboxRecord, string) {
	name, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return nil, arg
	}
	find := func(service string, replica int) *reconcile.SandboxRecord {
		for _, r := range recs {
			if r.Service == service && r.Replica == replica {
				return r
			}
		}
		return nil
	}
	if r := find(name, 1); r != nil {
		return r, p
	}
	if i := strings.LastIndex(name, "-"); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			if r := find(name[:i], n); r != nil {
				return r, p
			}
		}
	}
	return nil, arg
}
