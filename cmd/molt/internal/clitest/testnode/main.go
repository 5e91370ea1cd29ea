// Command testnode runs clitest's test node for the CLI's two-process
// test: it prints "address HOST:PORT" once the node listens, and stops
// when its standard input closes, so that it never outlives the test.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/cmd/molt/internal/clitest"
)

func main() {
	token := flag.String("token", "", "the token the node requires, named operator; none: loopback peers")
	flag.Parse()
	rc := molt.RemoteConfig{}
	if *token != "" {
		rc.Tokens = map[string]string{"operator": *token}
	}
	n, err := clitest.Start(rc, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		os.Exit(1)
	}
	fmt.Printf("address %s\n", n.Address())
	_, _ = io.Copy(io.Discard, os.Stdin)
	n.Stop()
}
