package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"nucleus/network/nft"
)

// portRange returns the published host range of p (0, 0 when unpublished).
func portRange(p Port) (int, int) {
	end := p.PublishedEnd
	if end < p.Published {
		end = p.Published
	}
	return p.Published, end
}

func hostIPOf(p Port) string {
	if p.HostIP == "" {
		return "0.0.0.0"
	}
	return p.HostIP
}

func protoOf(p Port) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// addrsOverlap: 0.0.0.0 overlaps every address.
func addrsOverlap(a, b string) bool {
	return a == b || a == "0.0.0.0" || b == "0.0.0.0" || a == "" || b == ""
}

// checkPorts refuses published ports that are already taken: by a socket of
// another process (found by binding the port ourselves), by a forward of
// another nucleus project (any state root, read from nftables), or by
// another sandbox of the same project (from our records). others are the
// project's other attachments.
func (m *Manager) checkPorts(project string, ports []Port, others []*AttachmentState) error {
	if err := checkUnprivilegedPorts(os.Geteuid(), ports); err != nil {
		return err
	}
	var theirs []nft.InUse
	// An ordinary user may not read the host's nftables: only root's
	// nucleus writes forwards there, and the user's own are its helpers'
	// listening sockets, which tryBind finds.
	loaded := os.Geteuid() != 0
	for _, p := range ports {
		start, end := portRange(p)
		if start == 0 {
			continue
		}
		host, proto := hostIPOf(p), protoOf(p)
		for _, o := range others {
			for _, op := range o.Ports {
				os, oe := portRange(op)
				if os != 0 && protoOf(op) == proto && addrsOverlap(hostIPOf(op), host) && os <= end && start <= oe {
					return fmt.Errorf("host port %s:%d/%s is already published by service %s (replica %d) of project %s", host, max(os, start), proto, o.Service, o.Replica, project)
				}
			}
		}
		if !loaded {
			var err error
			if theirs, err = nft.Forwards(TablePrefix, tableName(m.root, project)); err != nil {
				return err
			}
			loaded = true
		}
		for _, f := range theirs {
			if f.Table == tableName(m.root, project) {
				continue
			}
			if f.Proto == proto && addrsOverlap(f.HostIP.String(), host) && f.Start <= end && start <= f.End {
				return permanent(fmt.Errorf("host port %s:%d/%s is already forwarded by nucleus table %s (another project)", host, max(f.Start, start), proto, f.Table))
			}
		}
		for port := start; port <= end; port++ {
			if err := tryBind(proto, host, port); err != nil {
				return err
			}
		}
	}
	return nil
}

// tryBind binds host:port and releases it at once. A failure names the
// port and, when /proc shows it, the process holding it.
func tryBind(proto, host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var err error
	if proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			l.Close()
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("cannot publish %s/%s: %s is not an address of this host", addr, proto, host)
	}
	holder := portHolder(proto, port)
	if holder != "" {
		holder = " (held by " + holder + ")"
	}
	return fmt.Errorf("host port %s/%s is already in use%s: %w", addr, proto, holder, err)
}

// portHolder finds "pid PID (COMMAND)" of a socket bound to port, from
// /proc/net/{tcp,udp} and the fds of every process.
func portHolder(proto string, port int) string {
	b, err := readProcNet(proto)
	if err != nil {
		return ""
	}
	inodes := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(fs[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
			inodes["socket:["+fs[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !inodes[target] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		return "pid " + pid + " (" + strings.TrimSpace(string(comm)) + ")"
	}
	return ""
}
