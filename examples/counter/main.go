// Command counter shows a molt actor updated live while clients keep sending
// to it.
//
// A counter starts at version 1. Four client goroutines send it increments
// while it is updated v1 → v2 → v3 (each version changes the shape of the
// state), down to v1 and back up to v3 through chains of migrations, then to
// a v4 whose migration breaks an invariant (the update aborts and v3 goes on
// with its state untouched), then to a version that does not exist (the
// update is rejected). At the end the clients stop, and the final count must
// equal the number of increments they sent: the program exits with status 1
// if it does not.
//
//	go run ./examples/counter
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

const (
	clients = 4
	// Each client sends bursts of increments with a short pause between
	// them, so that the counter is busy but its mailbox stays short.
	burst = 200
	pause = time.Millisecond
	// traffic is how long the clients run between two updates.
	traffic = 150 * time.Millisecond
	// askTimeout bounds every Request the demo makes.
	askTimeout = 5 * time.Second
)

// step is one update of the demo.
type step struct {
	to   uint32
	what string
	want update.Outcome
	// request sends the update with protoactor's RequestFuture, as any
	// sender could; otherwise with node.Update, molt's in-process call.
	request bool
	// freeze pauses the clients around the update, so that the state can be
	// compared exactly before and after.
	freeze bool
}

var steps = []step{
	{to: 2, request: true, want: update.Outcome_OUTCOME_COMMITTED,
		what: "v2 checkpoints to a journal; told of an update, it takes a last checkpoint and is stable once the journal has answered"},
	{to: 3, want: update.Outcome_OUTCOME_COMMITTED,
		what: "v3 counts per client; its invariant (carried + per client = total) is checked before and after"},
	{to: 1, want: update.Outcome_OUTCOME_COMMITTED,
		what: "down to v1 through the chain 3→2→1"},
	{to: 3, want: update.Outcome_OUTCOME_COMMITTED,
		what: "back up to v3 through the chain 1→2→3"},
	{to: 4, freeze: true, want: update.Outcome_OUTCOME_ABORTED,
		what: "v4's migration forgets the carried count, so the migrated state breaks its invariant"},
	{to: 9, want: update.Outcome_OUTCOME_REJECTED,
		what: "a version that was never registered"},
}

// run is the demo. It writes its report to w and returns an error if an
// update did not end as expected or if the final count is not the number of
// increments sent.
func run(w io.Writer) error {
	cat, err := catalog()
	if err != nil {
		return err
	}
	node := molt.NewNode(cat)
	defer node.Shutdown()
	// Version 2 checkpoints to a journal, a plain protoactor actor.
	if _, err := node.Root().SpawnNamed(actor.PropsFromFunc(Journal), journal); err != nil {
		return err
	}
	pid, err := node.Spawn("counter", 1, molt.WithName("counter"))
	if err != nil {
		return err
	}
	defer func() { _ = node.Root().StopFuture(pid).Wait() }()

	fmt.Fprintf(w, "molt counter demo: %d clients send increments to one counter while it is updated live\n\n", clients)
	fmt.Fprintf(w, "spawned %q, kind counter, version 1; clients started\n", pid.GetId())
	d := &demo{w: w, node: node, pid: pid, version: 1, tally: map[update.Outcome]int{}}
	started := time.Now()
	d.pool = startClients(node.Root(), pid)
	defer d.pool.halt()

	for i, s := range steps {
		time.Sleep(traffic) // let the clients send for a while
		if err := d.update(i+1, s); err != nil {
			return err
		}
	}

	time.Sleep(traffic)
	sent := d.pool.halt()
	elapsed := time.Since(started)
	final, err := get(node, pid)
	if err != nil {
		return err
	}
	var total int64
	for _, n := range sent {
		total += n
	}

	fmt.Fprintf(w, "\nclients stopped after %v\n", elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  client\tsent\tcounted by v%d\t\n", final.Version)
	for i, n := range sent {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t\n", i+1, grouped(n), grouped(final.PerClient[i+1]))
	}
	fmt.Fprintf(tw, "  all\t%s\t%s\t   + %s carried from before v%d\n", grouped(total), grouped(final.Total-final.Carried), grouped(final.Carried), final.Version)
	tw.Flush()
	fmt.Fprintf(w, "final count  %s (version %d, asked with RequestFuture, %v timeout)\n", grouped(final.Total), final.Version, askTimeout)
	fmt.Fprintf(w, "sent         %s\n", grouped(total))
	if final.Total != total {
		d.problem("the final count is %d but %d increments were sent", final.Total, total)
	}
	for i, n := range sent {
		if final.PerClient[i+1] > n {
			d.problem("client %d sent %d increments but version %d counted %d of them", i+1, n, final.Version, final.PerClient[i+1])
		}
	}

	if len(d.problems) > 0 {
		fmt.Fprintf(w, "\nFAILED:\n  %s\n", strings.Join(d.problems, "\n  "))
		return errors.New(strings.Join(d.problems, "; "))
	}
	fmt.Fprintf(w, "\nOK: every increment counted exactly once, across %d committed, %d aborted and %d rejected updates\n",
		d.tally[update.Outcome_OUTCOME_COMMITTED], d.tally[update.Outcome_OUTCOME_ABORTED], d.tally[update.Outcome_OUTCOME_REJECTED])
	return nil
}

// demo is what run keeps track of.
type demo struct {
	w        io.Writer
	node     *molt.Node
	pid      *actor.PID
	pool     *clientPool
	version  uint32 // the version the counter should run
	tally    map[update.Outcome]int
	problems []string
}

func (d *demo) problem(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// update runs step s, the n-th update, prints its result and checks that
// the counter runs the version it should. It returns an error only when the
// counter does not answer.
func (d *demo) update(n int, s step) error {
	var before *Count
	var sentSoFar int64
	if s.freeze {
		sentSoFar = d.pool.freeze()
		defer d.pool.thaw()
		var err error
		if before, err = get(d.node, d.pid); err != nil {
			return err
		}
	}

	req := &update.UpdateActor{ToVersion: s.to, UpdateId: fmt.Sprintf("update-%d", n)}
	res, via, err := send(d.node, d.pid, req, s.request)
	if err != nil {
		return fmt.Errorf("update %d (v%d → v%d): %w", n, d.version, s.to, err)
	}
	d.tally[res.Outcome]++
	if res.Outcome == update.Outcome_OUTCOME_COMMITTED {
		d.version = res.ToVersion
	}
	fmt.Fprintf(d.w, "\nupdate %d  v%d → v%d  via %s\n", n, res.FromVersion, res.ToVersion, via)
	fmt.Fprintf(d.w, "  what    %s\n", s.what)
	printResult(d.w, res)
	if res.Outcome != s.want {
		d.problem("update %d ended %s, expected %s", n, outcome(res.Outcome), outcome(s.want))
	}

	now, err := get(d.node, d.pid)
	if err != nil {
		return err
	}
	if now.Version != d.version {
		d.problem("after update %d the counter runs version %d, expected %d", n, now.Version, d.version)
	}
	if e, ok := d.node.Directory().Lookup(d.pid); !ok || e.Version != d.version {
		d.problem("after update %d the directory says version %d, expected %d", n, e.Version, d.version)
	}
	if s.freeze {
		same := reflect.DeepEqual(before, now)
		fmt.Fprintf(d.w, "  proof   clients paused around it: version %d before and after, state identical: %v,\n", now.Version, same)
		fmt.Fprintf(d.w, "          total %s = the %s increments sent so far: %v\n", grouped(now.Total), grouped(sentSoFar), now.Total == sentSoFar)
		if !same || now.Total != sentSoFar {
			d.problem("update %d changed the state: before %+v, after %+v, %d sent", n, before, now, sentSoFar)
		}
	}
	fmt.Fprintf(d.w, "  now     %s\n", describe(now))
	return nil
}

// clientPool is the client goroutines. Each counts what it sends.
type clientPool struct {
	gate sync.RWMutex // held for reading while a client sends a burst
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
	sent []int64 // sent[i] is written by client i+1 only, under gate
}

func startClients(root *actor.RootContext, pid *actor.PID) *clientPool {
	p := &clientPool{stop: make(chan struct{}), sent: make([]int64, clients)}
	for i := range clients {
		p.done.Add(1)
		go p.client(root, pid, i+1)
	}
	return p
}

func (p *clientPool) client(root *actor.RootContext, pid *actor.PID, id int) {
	defer p.done.Done()
	inc := &Increment{Client: id} // read only: one value serves every send
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		p.gate.RLock()
		for range burst {
			root.Send(pid, inc)
		}
		p.sent[id-1] += burst
		p.gate.RUnlock()
		time.Sleep(pause)
	}
}

// freeze waits for the clients to finish the bursts they are sending and
// stops them at that point; it returns how many increments they sent in
// all. Every one of them is in the counter's mailbox by then.
func (p *clientPool) freeze() int64 {
	p.gate.Lock()
	var n int64
	for _, s := range p.sent {
		n += s
	}
	return n
}

// thaw lets frozen clients go on.
func (p *clientPool) thaw() { p.gate.Unlock() }

// halt stops the clients for good and returns what each sent. It may be
// called more than once.
func (p *clientPool) halt() []int64 {
	p.once.Do(func() {
		close(p.stop)
		p.done.Wait()
	})
	return slices.Clone(p.sent)
}

// send applies an update, with protoactor's RequestFuture or molt's
// node.Update, and says which it used.
func send(node *molt.Node, pid *actor.PID, req *update.UpdateActor, request bool) (*update.UpdateResult, string, error) {
	if !request {
		ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
		defer cancel()
		res, err := node.Update(ctx, pid, req)
		return res, "node.Update", err
	}
	const via = "RequestFuture"
	reply, err := node.Root().RequestFuture(pid, req, askTimeout).Result()
	if err != nil {
		return nil, via, fmt.Errorf("no result within %v: %w", askTimeout, err)
	}
	res, ok := reply.(*update.UpdateResult)
	if !ok {
		return nil, via, fmt.Errorf("the reply to UpdateActor is a %T, not an *update.UpdateResult", reply)
	}
	return res, via, nil
}

// get asks the counter for its state, with a bounded wait.
func get(node *molt.Node, pid *actor.PID) (*Count, error) {
	reply, err := node.Root().RequestFuture(pid, &Get{}, askTimeout).Result()
	if err != nil {
		return nil, fmt.Errorf("the counter did not answer Get within %v: %w", askTimeout, err)
	}
	c, ok := reply.(*Count)
	if !ok {
		return nil, fmt.Errorf("the reply to Get is a %T, not a *Count", reply)
	}
	return c, nil
}

// phases lists the result's time fields, in the order of the phases.
func phases(r *update.UpdateResult) []struct {
	name string
	ns   int64
} {
	return []struct {
		name string
		ns   int64
	}{
		{"init", r.InitializationNs},
		{"notify", r.NotificationNs},
		{"prepare", r.PreparationNs},
		{"check", r.StateCheckingNs},
		{"transfer", r.StateTransferNs},
		{"replace", r.ReplacementNs},
	}
}

func printResult(w io.Writer, r *update.UpdateResult) {
	switch r.Outcome {
	case update.Outcome_OUTCOME_COMMITTED:
		fmt.Fprintf(w, "  result  %s: runs v%d now; %s\n", outcome(r.Outcome), r.ToVersion, held(r.HeldMessages))
	case update.Outcome_OUTCOME_ABORTED:
		fmt.Fprintf(w, "  result  %s in phase %s: still runs v%d; %s\n", outcome(r.Outcome), phase(r.Phase), r.FromVersion, held(r.HeldMessages))
	default:
		fmt.Fprintf(w, "  result  %s in phase %s: nothing touched\n", outcome(r.Outcome), phase(r.Phase))
	}
	if r.Reason != "" {
		fmt.Fprintf(w, "  reason  %s\n", r.Reason)
	}
	var parts []string
	for i, p := range phases(r) {
		if i+1 > int(r.Phase) {
			break // phases after the one it stopped in did not run
		}
		parts = append(parts, p.name+" "+human(p.ns))
	}
	parts = append(parts, "total "+human(r.TotalNs))
	fmt.Fprintf(w, "  time    %s\n", strings.Join(parts, " · "))
}

func describe(c *Count) string {
	s := fmt.Sprintf("version %d", c.Version)
	if c.From != 0 {
		s += fmt.Sprintf(" (VersionChanged told it: from v%d)", c.From)
	}
	s += ", count " + grouped(c.Total)
	if c.PerClient != nil {
		ids := slices.Sorted(maps.Keys(c.PerClient))
		var per []string
		for _, id := range ids {
			per = append(per, fmt.Sprintf("%d:%s", id, grouped(c.PerClient[id])))
		}
		s += fmt.Sprintf(" = carried %s + per client {%s}", grouped(c.Carried), strings.Join(per, " "))
	}
	return s
}

func outcome(o update.Outcome) string {
	return strings.TrimPrefix(o.String(), "OUTCOME_")
}

func phase(p update.Phase) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(p.String(), "PHASE_")), "_", " ")
}

// human formats nanoseconds with three significant digits: 2.13µs, 850ns.
func human(ns int64) string {
	d := time.Duration(ns)
	p := time.Duration(1)
	for d/p >= 1000 {
		p *= 10
	}
	return d.Round(p).String()
}

// grouped formats n with thousands separators: 1,234,567.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// held says how many messages an update held.
func held(n uint32) string {
	switch n {
	case 0:
		return "no message held"
	case 1:
		return "1 message held, then delivered"
	}
	return grouped(int64(n)) + " messages held, then delivered in order"
}
