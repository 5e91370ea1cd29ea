// Command molt is the operator's CLI of a molt node: it lists a node's
// live actors, describes kinds, updates actors, applies update packages
// with their progress, watches events, rolls back, cancels, measures an
// actor's update latency from outside, and shows how a takeover between
// processes goes. It talks to the node's admin service over protoactor
// remote. Run `molt --help`.
package main

import (
	"os"

	"github.com/molt-go/molt/cmd/molt/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}
