// Command cluster is a member of the cluster example: a bank whose
// accounts are grains (kind account) of a protoactor cluster, each a molt
// actor that persists its state in etcd before it acknowledges a deposit.
// Members find each other through etcd (protoactor's etcd provider) and
// keep the accounts' snapshots there too (persist/etcdstore), so that an
// account whose member leaves or dies is activated again on another
// member, from its latest snapshot, migrated to the version that member
// runs.
//
// The current release runs version 1 of the account kind; the next one,
// built with -tags cluster_next, runs versions 1 and 2. While any member
// runs only version 1, accounts stay at version 1 everywhere (the newest
// version every member runs); once the last such member has left, every
// member moves its accounts to version 2 in place, and accounts activated
// from a version 1 snapshot are migrated on load.
//
//	etcd --data-dir /tmp/bank-etcd &
//	go run ./examples/cluster [-etcd http://127.0.0.1:2379] [-port 0]
//	go build -tags cluster_next -o bank-next ./examples/cluster
//
// A member prints "member ADDRESS up: ..." once it has joined, and leaves
// the cluster gracefully on SIGINT, SIGTERM, a "leave" line on its
// standard input, or the end of it when it is a pipe (a "stats" line
// prints what it holds): it hands every account it holds, with
// its in-memory state, to the account's next owner (cluster.Member.Leave),
// then exits. A member that dies instead (kill -9) loses nothing that was
// acknowledged: its accounts are activated again elsewhere from their
// snapshots. See README.md for a walkthrough: three members under load,
// each replaced by the next release in turn, without a failed call.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/examples/cluster/account"
	"github.com/molt-go/molt/persist/etcdstore"
	"github.com/molt-go/molt/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// Flags shared with the load generator are spelled the same there.
var (
	endpoints    = flag.String("etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated: members and snapshots")
	name         = flag.String("cluster", "bank", "the cluster's name; members of one cluster share it")
	host         = flag.String("host", "127.0.0.1", "the address this member's protoactor remote listens on")
	port         = flag.Int("port", 0, "its port (0: any free one)")
	activation   = flag.Duration("activation-timeout", time.Second, "how long a call waits for an account's owner to activate it before it retries")
	leaveTimeout = flag.Duration("leave-timeout", 10*time.Second, "how long a leaving member may take to hand its accounts over")
)

func run() error {
	flag.Parse()
	etcdCfg := clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	// Fenced: an account may be active on two members for a moment while
	// its owner changes; see package account.
	store, err := etcdstore.Open(etcdCfg, etcdstore.WithPrefix("/molt-example/"+*name+"/snapshots/"), etcdstore.Fenced())
	if err != nil {
		return err
	}
	defer store.Close()
	cat := registry.New()
	if err := account.Register(cat, nextRelease); err != nil {
		return err
	}
	provider, err := etcd.NewWithConfig("/molt-example/"+*name+"/members", etcdCfg)
	if err != nil {
		return fmt.Errorf("etcd provider: %w", err)
	}
	node := molt.NewNode(cat, molt.WithStore(store))
	start := time.Now()
	m, err := mc.Start(node, mc.Config{
		Name:              *name,
		Provider:          provider,
		Host:              *host,
		Port:              *port,
		ActivationTimeout: *activation,
		// Every activation loads its latest snapshot, and may Persist.
		Spawn: []molt.SpawnOption{molt.Persistent()},
	})
	if err != nil {
		node.Shutdown()
		return err
	}
	release := "current release"
	if nextRelease {
		release = "next release"
	}
	fmt.Printf("member %s up: account versions %v (%s), joined in %v\n", m.Address(), m.Runs(account.Kind), release, time.Since(start).Round(time.Millisecond))

	leave := make(chan string, 2)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() { leave <- (<-signals).String() }()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "leave":
				leave <- "asked to leave"
				return
			case "stats":
				printStats(m)
			}
		}
		// The end of a pipe means whoever drives this member is gone;
		// a shell gives a background job /dev/null, which ends at once.
		if fromPipe() {
			leave <- "standard input closed"
		}
	}()
	why := <-leave
	fmt.Printf("leaving (%s)\n", why)
	start = time.Now()
	printStats(m)
	// Leave hands every account active here, with its state, to its owner
	// without this member, then deregisters; what it could not hand over
	// in time is stopped, and reloads from its snapshot where it is
	// called next.
	ctx, cancel := context.WithTimeout(context.Background(), *leaveTimeout)
	err = m.Leave(ctx)
	cancel()
	if err != nil {
		fmt.Printf("leave: %v\n", err)
	}
	m.Shutdown()
	node.Shutdown()
	fmt.Printf("left in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// fromPipe says whether standard input is a pipe.
func fromPipe() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeNamedPipe != 0
}

func printStats(m *mc.Member) {
	active, byVersion := 0, map[uint32]int{}
	for _, e := range m.Node().Directory().List(account.Kind) {
		active++
		byVersion[e.Version]++
	}
	s := m.Stats()
	fmt.Printf("stats accounts %d v1 %d v2 %d upgraded %d refused %d failed %d\n", active, byVersion[1], byVersion[2], s.Upgraded, s.Refused, s.Failed)
}
