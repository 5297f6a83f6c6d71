package slirp

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"
)

// Forward is one host port forwarded into the namespace.
type Forward struct {
	Proto     string // "tcp" or "udp"
	HostAddr  string // "" = 0.0.0.0
	HostPort  int
	GuestAddr string // "" = the guest address
	GuestPort int
}

func (f Forward) String() string {
	host := f.HostAddr
	if host == "" {
		host = "0.0.0.0"
	}
	return fmt.Sprintf("%s->%d/%s", net.JoinHostPort(host, fmt.Sprint(f.HostPort)), f.GuestPort, f.Proto)
}

// key identifies a forward by what it does, ignoring slirp's id; defaults
// are filled in so that a forward read back with list_hostfwd matches the
// one that was asked for.
func (f Forward) key(guest string) string {
	if f.HostAddr == "" {
		f.HostAddr = "0.0.0.0"
	}
	if f.GuestAddr == "" {
		f.GuestAddr = guest
	}
	return f.String() + "@" + f.GuestAddr
}

type apiRequest struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
}

type apiResponse struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Desc string `json:"desc"`
	} `json:"error"`
}

type hostfwdArgs struct {
	Proto     string `json:"proto"`
	HostAddr  string `json:"host_addr,omitempty"`
	HostPort  int    `json:"host_port"`
	GuestAddr string `json:"guest_addr,omitempty"`
	GuestPort int    `json:"guest_port"`
}

type hostfwdEntry struct {
	ID int `json:"id"`
	hostfwdArgs
}

// apiTimeout bounds one API call; slirp4netns answers at once or not at all.
const apiTimeout = 5 * time.Second

// call sends one request over a fresh connection, as the API wants: one
// request per connection, write side shut down after it.
func call(socket string, req apiRequest, out any) error {
	conn, err := net.DialTimeout("unix", socket, apiTimeout)
	if err != nil {
		return fmt.Errorf("connect to API socket: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(apiTimeout)) //nolint:errcheck // unix conns support deadlines
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	var resp apiResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("answer %q is not JSON: %w", raw, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s", resp.Error.Desc)
	}
	body := resp.Return
	if len(body) == 0 {
		// slirp4netns 1.2.0 answers list_hostfwd without the "return" wrapper.
		body = raw
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("answer %q: %w", raw, err)
		}
	}
	return nil
}

func addHostfwd(socket string, f Forward) (int, error) {
	var ret struct {
		ID int `json:"id"`
	}
	err := call(socket, apiRequest{Execute: "add_hostfwd", Arguments: hostfwdArgs{
		Proto: f.Proto, HostAddr: f.HostAddr, HostPort: f.HostPort, GuestAddr: f.GuestAddr, GuestPort: f.GuestPort,
	}}, &ret)
	return ret.ID, err
}

func removeHostfwd(socket string, id int) error {
	return call(socket, apiRequest{Execute: "remove_hostfwd", Arguments: map[string]int{"id": id}}, nil)
}

func listHostfwd(socket string) ([]hostfwdEntry, error) {
	var ret struct {
		Entries []hostfwdEntry `json:"entries"`
	}
	err := call(socket, apiRequest{Execute: "list_hostfwd"}, &ret)
	return ret.Entries, err
}
