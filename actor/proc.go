package actor

import (
	_ "unsafe" // for go:linkname
)

// procPin and procUnpin are the runtime's: procPin returns the id of the P
// (the scheduler's processor) the goroutine runs on and keeps it there
// until procUnpin. sync.Pool uses them for its per-P caches; the runtime
// keeps them linkable for the packages that do the same (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// procID returns the id of the P the caller runs on now; the goroutine may
// move to another as soon as it returns, so it is a hint, not a fact.
func procID() int {
	p := procPin()
	procUnpin()
	return p
}
