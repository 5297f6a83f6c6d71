package network

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"nucleus/internal/rootdir"
)

// Host objects of the kernel backend are named with a common prefix and a
// hash of (root ID, project, network[, service, replica]): interface names
// are limited to 15 characters, and the hash keeps names of different
// projects and state roots apart. Each link also carries an alias
// "nucleus:ROOTID:..." so the leak check can tell which root owns it.
const (
	linkPrefix   = "nc"
	bridgePrefix = linkPrefix + "b" // ncb + 10 hex = 13 chars
	vethPrefix   = linkPrefix + "v" // host end of a sandbox's veth
	peerPrefix   = linkPrefix + "p" // inside end before it is renamed
	aliasPrefix  = "nucleus:"
	// TablePrefix starts the name of every nftables table nucleus creates.
	TablePrefix = "nucleus_"
)

func nameHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:5])
}

func bridgeName(root rootdir.Root, project, network string) string {
	return bridgePrefix + nameHash(root.ID(), project, network)
}

func vethNames(root rootdir.Root, project, network, service string, replica int) (host, peer string) {
	h := nameHash(root.ID(), project, network, service, strconv.Itoa(normReplica(replica)))
	return vethPrefix + h, peerPrefix + h
}

// linkAlias is the IFLA_IFALIAS of a link nucleus created.
func linkAlias(root rootdir.Root, parts ...string) string {
	return aliasPrefix + root.ID() + ":" + strings.Join(parts, ":")
}

// tableName is the nftables table of a project.
func tableName(root rootdir.Root, project string) string {
	return rootTablePrefix(root) + project
}

func rootTablePrefix(root rootdir.Root) string { return TablePrefix + root.ID() + "_" }
