//go:build !cluster_next

package main

// nextRelease says which release of the accounts this binary is: the
// current one (version 1), unless built with -tags cluster_next.
const nextRelease = false
