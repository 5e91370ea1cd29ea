//go:build cluster_next

package main

// nextRelease says which release of the accounts this binary is: built
// with -tags cluster_next, the next one, which runs versions 1 and 2 of
// the account kind and migrates between them.
const nextRelease = true
