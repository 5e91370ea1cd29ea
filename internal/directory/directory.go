// Package directory hands molt's runtime the write side of a
// registry.Directory. A node's directory is what tools and the update
// manager trust to know which actor runs which version, so only the code
// that spawns, updates and stops the actors may change it: package registry
// exports the reads alone and gives the writes out here, where code outside
// the module cannot import them.
package directory

import "github.com/asynkron/protoactor-go/actor"

// Writer records the live actors of a node in its registry.Directory.
type Writer interface {
	// Add records a live actor unless it is recorded already. The
	// directory keeps labels as given: the caller must not modify them
	// afterwards.
	Add(pid *actor.PID, kind string, version uint32, labels map[string]string)
	// Set records the version a live actor runs now, keeping its labels.
	Set(pid *actor.PID, kind string, version uint32)
	// Remove forgets an actor that stopped.
	Remove(pid *actor.PID)
}

// WriterOf returns the Writer of dir, a *registry.Directory; it panics on
// anything else. Package registry sets it as it is initialised: registry
// imports this package, so this one cannot name registry's type, and any
// program holding a Directory has run registry's init.
var WriterOf func(dir any) Writer
