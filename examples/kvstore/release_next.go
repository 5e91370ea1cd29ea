//go:build kvstore_next

package main

// nextRelease says which release of the shards this binary is: built with
// -tags kvstore_next, the next one (version 3, RegisterNext), which takes
// over from a running current one with -takeover.
const nextRelease = true
