// Package host binds the supervisor's ports (reconcile.Runtime,
// reconcile.Networks) to the real runtime and network packages. It is a
// separate package so the reconcile core stays pure and builds without
// cgo, netlink or nftables.
package host
