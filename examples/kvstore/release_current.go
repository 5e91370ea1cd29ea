//go:build !kvstore_next

package main

// nextRelease says which release of the shards this binary is: the current
// one (versions 1 and 2, Register), unless built with -tags kvstore_next.
const nextRelease = false
