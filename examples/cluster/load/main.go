// Command load is the cluster example's load generator: it joins the
// cluster as a member that hosts no grains, and deposits into accounts by
// identity (protoactor's cluster.Request) from a number of workers until
// it is told to stop; then it audits every account and checks that each
// holds exactly the deposits that were acknowledged.
//
//	go run ./examples/cluster/load [-etcd http://127.0.0.1:2379] [-accounts 40] [-workers 8] [-duration 0]
//
// It runs for -duration (0: no limit), until SIGINT or SIGTERM, or until
// a "stop" line on its standard input or the end of it when it is a pipe. It prints "ready ADDRESS" once it has joined,
// "progress acked N retried N failed N" twice a second, and at the end a
// report; it exits 1 if any call finally failed or any account does not
// hold its acknowledged deposits.
//
// # A real client's retries
//
// A call that meets a member change is retried, as a client of a
// cluster must: protoactor's call options retry a call whose grain has no
// owner yet or whose activation is gone (WithRetryCount, WithRetryAction,
// within an attempt's timeout), and the generator sends the call again
// when an attempt times out, fails, or the account answers Refused, until
// -give-up has passed since the call began. A call counts as failed only
// then; the report counts the calls that needed a retry.
//
// # Exactly once
//
// A retried deposit may have been applied by the attempt that seemed to
// fail. Every worker is a client with its own name that numbers its
// deposits; an account applies each (client, number) once and answers a
// repeat as a duplicate. The audit checks it: an account's balance and
// deposit count must equal the sums of its acknowledged deposits; a
// deposit applied twice shows as an account over its count ("applied
// twice" in the report).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/examples/cluster/account"
	"github.com/molt-go/molt/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

var (
	endpoints      = flag.String("etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	name           = flag.String("cluster", "bank", "the cluster's name")
	accounts       = flag.Int("accounts", 40, "how many accounts (acct-0 ...) the workers deposit into")
	workers        = flag.Int("workers", 8, "concurrent clients, each with one call in flight")
	duration       = flag.Duration("duration", 0, "how long to run; 0: until a \"stop\" line on standard input, or its end")
	attemptTimeout = flag.Duration("attempt-timeout", 2*time.Second, "how long one attempt of a call may take")
	giveUp         = flag.Duration("give-up", 30*time.Second, "how long a call is retried before it counts as failed")
	prefix         = flag.String("prefix", "", "prefix of the account names (default: one of this run's own)")
)

func main() {
	flag.Parse()
	ok, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// book is what the clients know: per account, the deposits acknowledged
// and those whose outcome is unknown (a call that finally failed).
type book struct {
	mu       sync.Mutex
	acked    map[string]int64  // account → sum acknowledged
	count    map[string]uint64 // account → deposits acknowledged
	maybe    map[string]int64  // account → sum of deposits that may or may not have been applied
	maybeN   map[string]uint64
	versions map[uint32]int64 // version → deposits it acknowledged
}

type stats struct {
	calls, acked, duplicates, retried, failed atomic.Int64
	mu                                        sync.Mutex
	latencies                                 []time.Duration
}

func run() (bool, error) {
	etcdCfg := clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	provider, err := etcd.NewWithConfig("/molt-example/"+*name+"/members", etcdCfg)
	if err != nil {
		return false, fmt.Errorf("etcd provider: %w", err)
	}
	// A member that hosts no kind: it calls grains, it holds none, and
	// no placement counts it.
	node := molt.NewNode(registry.New())
	defer node.Shutdown()
	m, err := mc.Start(node, mc.Config{Name: *name, Provider: provider, Kinds: []string{}, ActivationTimeout: time.Second})
	if err != nil {
		return false, err
	}
	defer m.Shutdown()
	if *prefix == "" {
		*prefix = fmt.Sprintf("acct-%x-", time.Now().UnixNano()&0xffffff)
	}
	fmt.Printf("ready %s\n", m.Address())

	c := m.Cluster()
	bk := &book{acked: map[string]int64{}, count: map[string]uint64{}, maybe: map[string]int64{}, maybeN: map[string]uint64{}, versions: map[uint32]int64{}}
	st := &stats{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(c, w, bk, st, stop)
		}()
	}
	done := make(chan struct{})
	go progress(st, done)
	waitForStop()
	close(stop)
	wg.Wait()
	close(done)
	return report(c, bk, st), nil
}

// waitForStop returns after -duration (if not 0), on SIGINT or SIGTERM,
// or on a "stop" line or the end of standard input when it is a pipe (a
// shell gives a background job /dev/null, which ends at once).
func waitForStop() {
	stop := make(chan struct{}, 3)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "stop" {
				stop <- struct{}{}
				return
			}
		}
		if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			stop <- struct{}{}
		}
	}()
	var timeout <-chan time.Time
	if *duration > 0 {
		timeout = time.After(*duration)
	}
	select {
	case <-stop:
	case <-signals:
	case <-timeout:
	}
}

func progress(st *stats, done <-chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fmt.Printf("progress acked %d retried %d failed %d\n", st.acked.Load(), st.retried.Load(), st.failed.Load())
		}
	}
}

func accountName(i int) string { return fmt.Sprintf("%s%d", *prefix, i) }

// work is one client: deposits, one at a time, into random accounts.
func work(c *pc.Cluster, w int, bk *book, st *stats, stop <-chan struct{}) {
	client := fmt.Sprintf("%s-w%d", strings.TrimSuffix(*prefix, "-"), w)
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	for seq := uint64(1); ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		id := accountName(rng.IntN(*accounts))
		amount := 1 + rng.Int64N(1000)
		start := time.Now()
		res, err := call(c, id, &account.Deposit{Client: client, Seq: seq, Amount: amount}, st)
		st.calls.Add(1)
		bk.mu.Lock()
		if err != nil {
			st.failed.Add(1)
			bk.maybe[id] += amount
			bk.maybeN[id]++
			bk.mu.Unlock()
			fmt.Fprintf(os.Stderr, "load: deposit %s#%d into %s failed: %v\n", client, seq, id, err)
			continue
		}
		d := res.(*account.Deposited)
		bk.acked[id] += amount
		bk.count[id]++
		bk.versions[d.GetVersion()]++
		bk.mu.Unlock()
		st.acked.Add(1)
		if d.GetDuplicate() {
			st.duplicates.Add(1)
		}
		st.mu.Lock()
		st.latencies = append(st.latencies, time.Since(start))
		st.mu.Unlock()
	}
}

// call sends msg to the account until it answers other than Refused, or
// -give-up passes. Within an attempt, protoactor retries a call whose
// account has no owner yet (the lookup answers nil) or whose activation
// has gone (a dead letter); an attempt that times out, fails or is
// refused is sent again here.
func call(c *pc.Cluster, id string, msg proto.Message, st *stats) (any, error) {
	opts := []pc.GrainCallOption{
		pc.WithTimeout(*attemptTimeout),
		pc.WithRetryCount(100),
		pc.WithRetryAction(func(i int) int {
			time.Sleep(time.Duration(min(i+1, 10)) * 10 * time.Millisecond) // back off while the cluster settles
			return i + 1
		}),
	}
	began := time.Now()
	retried := false
	for attempt := 0; ; attempt++ {
		res, err := c.Request(id, account.Kind, msg, opts...)
		if err == nil {
			if r, refused := res.(*account.Refused); refused {
				err = fmt.Errorf("refused: %s", r.GetReason())
			} else {
				return res, nil
			}
		}
		if time.Since(began) > *giveUp {
			return nil, fmt.Errorf("after %d attempts in %v: %w", attempt+1, time.Since(began).Round(time.Millisecond), err)
		}
		if !retried {
			retried = true
			st.retried.Add(1)
		}
		time.Sleep(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond)
	}
}

// report audits every account and prints what the run did; false if a
// call failed or an account does not hold what was acknowledged.
func report(c *pc.Cluster, bk *book, st *stats) bool {
	st.mu.Lock()
	lat := slices.Clone(st.latencies)
	st.mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("report calls %d acked %d duplicates %d retried %d failed %d p50ms %.1f p99ms %.1f maxms %.1f\n",
		st.calls.Load(), st.acked.Load(), st.duplicates.Load(), st.retried.Load(), st.failed.Load(), pct(0.5), pct(0.99), pct(1))
	fmt.Printf("answered v1 %d v2 %d\n", bk.versions[1], bk.versions[2])

	versions := map[uint32]int{}
	mismatched, twice, unaudited := 0, 0, 0
	for i := range *accounts {
		id := accountName(i)
		res, err := call(c, id, &account.Audit{}, st)
		if err != nil {
			unaudited++
			fmt.Printf("unaudited %s: %v\n", id, err)
			continue
		}
		s := res.(*account.Statement)
		versions[s.GetVersion()]++
		acked, count := bk.acked[id], bk.count[id]
		maybe, maybeN := bk.maybe[id], bk.maybeN[id]
		if s.GetDeposits() > count+maybeN {
			twice++
		}
		if s.GetBalance() < acked || s.GetBalance() > acked+maybe || s.GetDeposits() < count || s.GetDeposits() > count+maybeN {
			mismatched++
			fmt.Printf("mismatch %s on %s at v%d: balance %d in %d deposits; acknowledged %d in %d, unknown %d in %d\n",
				id, s.GetMember(), s.GetVersion(), s.GetBalance(), s.GetDeposits(), acked, count, maybe, maybeN)
		}
	}
	fmt.Printf("audit accounts %d v1 %d v2 %d mismatched %d twice %d unaudited %d\n", *accounts, versions[1], versions[2], mismatched, twice, unaudited)
	ok := st.failed.Load() == 0 && mismatched == 0 && unaudited == 0
	if ok {
		fmt.Println("OK: no call failed; every account holds exactly its acknowledged deposits")
	} else {
		fmt.Println("FAIL")
	}
	return ok
}
