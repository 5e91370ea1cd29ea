// Command testnode runs a molt node with remote and one tally actor, for
// molt's two-process test. It prints "address <host:port> <actor id>" once
// the actor runs, then serves until its standard input closes (the test
// ended, or died) or it is signalled.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/internal/remotetest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		os.Exit(1)
	}
}

func run() error {
	cat, err := remotetest.Catalog()
	if err != nil {
		return err
	}
	node, err := molt.StartNode(cat, molt.WithRemote(molt.RemoteConfig{}))
	if err != nil {
		return err
	}
	defer node.Shutdown()
	pid, err := node.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
	if err != nil {
		return err
	}
	fmt.Printf("address %s %s\n", node.Address(), pid.GetId())

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-done:
	case <-sig:
	}
	return nil
}
