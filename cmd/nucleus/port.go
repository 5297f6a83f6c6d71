package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/reconcile/api"
)

func init() { register("port", newPortCmd) }

func newPortCmd() *cobra.Command {
	var index int
	var protocol string
	cmd := &cobra.Command{
		Use:   "port SERVICE PORT[/PROTOCOL]",
		Short: "Print the host address a service's port is published on",
		Long: "Print HOST_IP:PORT for the service's PRIVATE_PORT (tcp unless /udp or --protocol), as\n" +
			"`docker compose port` does: the host port written in ports:, or the ephemeral one nucleus\n" +
			"picked for a port written without one. --index picks the replica (default 1).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, proto, err := portArg(args[1], protocol)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			_, name, loadErr := projectForState()
			if name == "" {
				return &exitError{code: 2, err: loadErr}
			}
			st, err := api.Status(context.Background(), stateRoot(), name, nil)
			if err != nil {
				return err
			}
			for _, r := range st.Replicas {
				if r.Service != args[0] || r.Replica != index {
					continue
				}
				for _, p := range r.Ports {
					host, inside, ok := strings.Cut(p, "->")
					if ok && inside == strconv.Itoa(target)+"/"+proto {
						fmt.Fprintln(cmd.OutOrStdout(), host)
						return nil
					}
				}
				return fmt.Errorf("port: %s replica %d does not publish %d/%s (ports: %s)", args[0], index, target, proto, strings.Join(append(r.Ports, "none")[:max(len(r.Ports), 1)], ", "))
			}
			return fmt.Errorf("port: no replica %d of service %s in project %s (is it up?)", index, args[0], name)
		},
	}
	cmd.Flags().IntVar(&index, "index", 1, "replica `N` of the service")
	cmd.Flags().StringVar(&protocol, "protocol", "", "tcp or udp (default tcp, or the /PROTOCOL of PORT)")
	return cmd
}

// portArg reads PORT[/PROTOCOL]; --protocol must agree with a /PROTOCOL.
func portArg(s, flag string) (int, string, error) {
	num, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = flag
	} else if flag != "" && flag != proto {
		return 0, "", fmt.Errorf("port: %s and --protocol %s disagree", s, flag)
	}
	if proto == "" {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return 0, "", fmt.Errorf("port: %q is not PORT[/tcp|udp]", s)
	}
	return n, proto, nil
}
