// Command takeovernode runs clitest's test nodes for the CLI's takeover
// test: nodes with the admin service and a takeover service, between which
// a real takeover runs.
//
//	takeovernode -role source [-token T]
//
// runs clitest's node (svc s-00, s-01, s-02 and oneway o-00, at version 1)
// and serves takeovers; with -token, it requires that token (named
// operator) of every peer.
//
//	takeovernode -role requester -from ADDR [-id ID] [-token T] [-stop-after-begin]
//
// runs an empty node with the same catalogue, serves takeovers too, and
// takes over ADDR's actors (svc at version 2, oneway at 2), presenting
// -token to it; -stop-after-begin cancels the takeover once the source
// has answered Begin, so that it ends with an error and nothing moved.
// It prints "report moved N failed N error E" when the takeover ends.
//
// Both print "address HOST:PORT" first, once the node listens, and stop
// when their standard input closes, so that they never outlive the test.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/cmd/molt/internal/clitest"
	"github.com/molt-go/molt/takeover"
)

func main() {
	role := flag.String("role", "source", "source or requester")
	from := flag.String("from", "", "the source's address (requester)")
	id := flag.String("id", "clitest-takeover", "the takeover's id (requester)")
	token := flag.String("token", "", "source: the token the node requires, named operator; requester: the token it presents to the source")
	stop := flag.Bool("stop-after-begin", false, "cancel the takeover once Begin is answered (requester)")
	flag.Parse()
	if err := run(*role, *from, *id, *token, *stop); err != nil {
		fmt.Fprintln(os.Stderr, "takeovernode:", err)
		os.Exit(1)
	}
}

func run(role, from, id, token string, stopAfterBegin bool) error {
	var (
		n   *clitest.Node
		err error
	)
	switch role {
	case "source":
		rc := molt.RemoteConfig{}
		if token != "" {
			rc.Tokens = map[string]string{"operator": token}
		}
		n, err = clitest.Start(rc, true)
	case "requester":
		n, err = clitest.StartEmpty(molt.RemoteConfig{Token: token})
	default:
		return fmt.Errorf("-role %q: source or requester", role)
	}
	if err != nil {
		return err
	}
	defer n.Stop()
	svc, err := takeover.Serve(n.Node, nil)
	if err != nil {
		return err
	}
	defer svc.Stop()
	fmt.Printf("address %s\n", n.Address())
	if role == "requester" {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cfg := takeover.Config{ID: id, Versions: map[string]uint32{"svc": 2}}
		if stopAfterBegin {
			cfg.Progress = func(*takeover.Progress) { cancel() }
		}
		rep, err := takeover.Run(ctx, n.Node, from, cfg)
		if rep == nil {
			return err
		}
		msg := "-"
		if err != nil {
			msg = strconv.Quote(err.Error())
		}
		fmt.Printf("report moved %d failed %d error %s\n", rep.Moved, rep.Failed, msg)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
