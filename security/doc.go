// Package security holds the escape regression suite (issue 9): its tests
// start real sandboxes with the nucleus binary, run an attacker program
// (testdata/escape-probe) inside them and check that every attempt is refused by
// the layer meant to refuse it and that nothing changed on the host. See the
// "Threat model" section of docs/sandbox.md.
package security
