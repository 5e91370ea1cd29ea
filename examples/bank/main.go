// Command bank shows all-or-nothing group updates of molt actors that
// depend on each other, while they work.
//
// A bank keeps 1,000 accounts on four shard actors (kind "shard"). Client
// goroutines move money between accounts on different shards all along: the
// source's shard debits the account and sends a Credit to the destination's
// shard, which credits and acknowledges. The update manager then updates
// the four shards in one all-or-nothing group, from version 1 (balances in
// whole units) to version 2 (cents and a currency), while the transfers
// run; then tries version 3 (per-account history counters) with one shard
// armed to fail its migration, so that the whole group aborts. The total
// balance is audited before, during and after each update, and once the
// clients stop: it never changes, and every transfer accepted is credited
// exactly once. The program exits with status 1 if any check fails.
//
//	go run ./examples/bank
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

const (
	shards   = 4
	perShard = 250     // accounts per shard
	opening  = 100_000 // cents per account: 1,000.00
	clients  = 8
	// traffic is how long the clients run between two steps.
	traffic = 150 * time.Millisecond
	// askTimeout bounds every request the demo makes, and every wait.
	askTimeout = 5 * time.Second
	// perActor is each shard's update deadline, and so the group's.
	perActor = time.Second
	// group is the name of the all-or-nothing group of every shard.
	group = "all-shards"
	// armed is the shard whose migration to version 3 fails.
	armed = 2
)

// run is the demo. It writes its report to w and returns an error if a
// check failed: a total that changed, a transfer lost, an update that did
// not end as planned.
func run(w io.Writer) error {
	cat, err := catalog()
	if err != nil {
		return err
	}
	node := molt.NewNode(cat)
	defer node.Shutdown()
	mgr := manager.Spawn(node)
	defer mgr.Stop()

	b := &bank{w: w, node: node, mgr: mgr}
	if err := b.open(); err != nil {
		return err
	}
	defer b.close()
	fmt.Fprintf(w, "molt bank demo: %s accounts on %d shard actors (kind shard), %d clients moving money between shards\n\n",
		grouped(shards*perShard), shards, clients)

	// 1. The total before.
	reps, err := b.audit()
	if err != nil {
		return err
	}
	sum := summarize(reps)
	b.initial = sum.total
	fmt.Fprintf(w, "1. before the updates: total %s in %d accounts, shards on %s\n", money(sum.total), sum.accounts, sum.versions())
	if want := int64(shards * perShard * opening); sum.total != want || sum.balance != want {
		b.problem("the opening total is %s, want %s", money(sum.total), money(want))
	}
	start := time.Now()
	b.pool = startClients(node.Root(), b.pids)
	defer b.pool.halt()
	time.Sleep(traffic)

	// 2. A group update that commits, with transfers running.
	fmt.Fprintf(w, "\n2. group update v1 → v2 of every shard, all or nothing, while the clients transfer\n")
	pkg := b.pkg("bank-v2", "balances in cents, with a currency", 1, 2)
	plan, err := mgr.DryRun(pkg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   the manager's plan (dry run):\n%s", indent(plan.String(), "     "))
	if err := b.groupUpdate(pkg, manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED, 2); err != nil {
		return err
	}
	time.Sleep(traffic)

	// 3. A group update that aborts: one shard's migration fails.
	fmt.Fprintf(w, "\n3. group update v2 → v3 of every shard while the clients transfer; %s is armed to fail its migration\n", shardName(armed))
	if err := b.arm(armed, shardName(armed)+" was armed to fail its migration to version 3"); err != nil {
		return err
	}
	if err := b.groupUpdate(b.pkg("bank-v3", "per-account history counters", 2, 3), manager.PackageOutcome_PACKAGE_OUTCOME_HALTED, 2); err != nil {
		return err
	}
	if err := b.abortWithClientsPaused(); err != nil {
		return err
	}
	time.Sleep(traffic)

	// 4. The clients stop; the books must balance to the cent.
	if err := b.final(time.Since(start)); err != nil {
		return err
	}
	if len(b.problems) > 0 {
		fmt.Fprintf(w, "\nFAILED:\n  %s\n", strings.Join(b.problems, "\n  "))
		return errors.New(strings.Join(b.problems, "; "))
	}
	fmt.Fprintf(w, "\nOK: the total stayed %s before, during and after a committed and an aborted group update; every transfer was credited exactly once\n", money(b.initial))
	return nil
}

// bank is what run keeps track of.
type bank struct {
	w        io.Writer
	node     *molt.Node
	mgr      *manager.Manager
	pids     []*actor.PID
	names    []string
	initial  int64
	pool     *clientPool
	problems []string
}

func (b *bank) problem(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// open spawns the shards at version 1, labelled bank=demo, and opens their
// accounts.
func (b *bank) open() error {
	for i := range shards {
		pid, err := b.node.Spawn("shard", 1, molt.WithName(shardName(i)), molt.WithLabels(map[string]string{"bank": "demo"}))
		if err != nil {
			return err
		}
		b.pids = append(b.pids, pid)
		b.names = append(b.names, shardName(i))
	}
	for i, pid := range b.pids {
		open := &Open{Shard: i, Shards: shards, Cents: opening}
		for n := i; n < shards*perShard; n += shards {
			open.Accounts = append(open.Accounts, accountName(n))
		}
		v, err := b.node.Root().RequestFuture(pid, open, askTimeout).Result()
		if err != nil {
			return fmt.Errorf("%s did not answer Open within %v: %w", shardName(i), askTimeout, err)
		}
		if r, ok := v.(*Opened); !ok || r.Err != "" {
			return fmt.Errorf("%s did not open its accounts: %v", shardName(i), v)
		}
	}
	return nil
}

func (b *bank) close() {
	for _, pid := range b.pids {
		_ = b.node.Root().StopFuture(pid).Wait()
	}
}

// pkg is an update package for every shard of the bank (selected by label),
// in one all-or-nothing group.
func (b *bank) pkg(id, description string, from, to uint32) *manifest.Package {
	return &manifest.Package{
		ID:          id,
		Description: description,
		Updates: []manifest.KindUpdate{{
			Kind: "shard", From: []uint32{from}, To: to,
			Targets: manifest.Targets{All: true, Labels: map[string]string{"bank": "demo"}},
		}},
		Groups:     []manifest.Group{{Name: group, Members: slices.Clone(b.names)}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: perActor}},
	}
}

// groupUpdate runs pkg through the manager while the clients run, prints its
// events, audits the bank during the update (when the package starts, when
// the group has staged or aborted, and back to back all along) and after
// it, and checks the outcome and that every shard runs version want.
func (b *bank) groupUpdate(pkg *manifest.Package, outcome manager.PackageOutcome, want uint32) error {
	var (
		mu     sync.Mutex
		events []*manager.Event
		marked []markedAudit
	)
	onEvent := func(e *manager.Event) {
		// On the manager's goroutine: send the audits, wait later.
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		switch e.GetType() {
		case manager.EventType_PACKAGE_STARTED:
			marked = append(marked, markedAudit{"when the package started", b.startAudit()})
		case manager.EventType_GROUP_STAGED:
			marked = append(marked, markedAudit{"when every shard had staged", b.startAudit()})
		case manager.EventType_GROUP_ABORTED:
			marked = append(marked, markedAudit{"when the group aborted", b.startAudit()})
		}
	}
	stop := make(chan struct{})
	sampled := make(chan []sample, 1)
	go func() {
		var out []sample
		for {
			select {
			case <-stop:
				sampled <- out
				return
			default:
			}
			reps, err := b.audit()
			out = append(out, sample{reps, err})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*askTimeout)
	done, err := b.mgr.Run(ctx, pkg, onEvent)
	cancel()
	close(stop)
	samples := <-sampled
	if err != nil {
		return err
	}

	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(b.w, "   events of package %s:\n", pkg.ID)
	for _, e := range events {
		fmt.Fprintf(b.w, "     %-16s %s\n", e.GetType(), describe(e))
	}
	if done.GetPackageOutcome() != outcome {
		b.problem("package %s ended %v, expected %v", pkg.ID, done.GetPackageOutcome(), outcome)
	}
	b.checkEvents(pkg.ID, events, outcome == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED)

	fmt.Fprintf(b.w, "   audits sent while the update ran (total = balances + money in flight):\n")
	for _, m := range marked {
		reps, err := m.call.wait()
		if err != nil {
			return err
		}
		s := summarize(reps)
		fmt.Fprintf(b.w, "     %-28s answered by %s  total %s  %s\n", m.when, s.versions(), money(s.total), b.verdict(s, pkg.ID+", audit "+m.when))
	}
	if len(samples) > 0 {
		versions := map[uint32]int{}
		bad := 0
		// Each audit is counted by the versions of its answers too: whole
		// v1, whole v2, or a mix, for the explanation below.
		whole := map[uint32]int{}
		mixed := 0
		for _, smp := range samples {
			if smp.err != nil {
				return smp.err
			}
			s := summarize(smp.reps)
			for _, v := range s.all {
				versions[v]++
			}
			if slices.Min(s.all) == slices.Max(s.all) {
				whole[s.all[0]]++
			} else {
				mixed++
			}
			if s.total != b.initial || s.strays != 0 {
				bad++
				b.problem("%s: an audit during the update found a total of %s (want %s), %d strays", pkg.ID, money(s.total), money(b.initial), s.strays)
			}
		}
		var seen []string
		for v := uint32(1); v <= 3; v++ {
			if versions[v] > 0 {
				seen = append(seen, fmt.Sprintf("v%d ×%d", v, versions[v]))
			}
		}
		verdict := "ok"
		if bad > 0 {
			verdict = fmt.Sprintf("FAILED %d times", bad)
		}
		fmt.Fprintf(b.w, "     %-28s answered by %s  total %s each  %s\n", plural(len(samples), "audit")+" back to back", strings.Join(seen, ", "), money(b.initial), verdict)
		if len(seen) > 1 {
			b.explainVersions(len(samples), whole, mixed)
		}
	}

	reps, err := b.audit()
	if err != nil {
		return err
	}
	s := summarize(reps)
	fmt.Fprintf(b.w, "   after: shards on %s, total %s, %s in flight  %s\n", s.versions(), money(s.total), money(s.pendingCents), b.verdict(s, pkg.ID+", audit after"))
	b.checkVersions(pkg.ID, s, want)
	return nil
}

// explainVersions says why the audits of a committed group update were
// answered by both versions, which otherwise reads like a group half
// updated: the counts are of shard answers, and an answer's version is the
// one its shard ran when the audit reached it, before or after the cut.
func (b *bank) explainVersions(audits int, whole map[uint32]int, mixed int) {
	var parts []string
	for v := uint32(1); v <= 3; v++ {
		if whole[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d answered wholly by v%d", whole[v], v))
		}
	}
	parts = append(parts, fmt.Sprintf("%d by a mix", mixed))
	fmt.Fprintf(b.w, "       why both versions: an audit asks all %d shards, so ×N counts shard answers; of the %s,\n", shards, plural(audits, "audit"))
	fmt.Fprintf(b.w, "       %s.\n", strings.Join(parts, ", "))
	fmt.Fprintf(b.w, "       A shard answers with the version it runs when the audit reaches it: v1 before the group's\n")
	fmt.Fprintf(b.w, "       cut (the shard's stable point, where it stages), v2 after it (held until the commit); an\n")
	fmt.Fprintf(b.w, "       audit that straddles the cut gets both. No shard handles a message between staging and the\n")
	fmt.Fprintf(b.w, "       commit, so every total is right, and no client is answered by v2 and then by v1\n")
	fmt.Fprintf(b.w, "       (checked in 4.).\n")
}

// checkEvents checks a group package's events: every member ended
// together, committed or not.
func (b *bank) checkEvents(id string, events []*manager.Event, commit bool) {
	wantOutcome, wantGroup := update.Outcome_OUTCOME_COMMITTED, manager.EventType_GROUP_COMMITTED
	if !commit {
		wantOutcome, wantGroup = update.Outcome_OUTCOME_ABORTED, manager.EventType_GROUP_ABORTED
	}
	members, groups := 0, 0
	for _, e := range events {
		switch e.GetType() {
		case manager.EventType_ACTOR_UPDATED:
			members++
			if e.GetOutcome() != wantOutcome {
				b.problem("%s: %s ended %v, expected %v", id, e.GetActor(), e.GetOutcome(), wantOutcome)
			}
		case manager.EventType_GROUP_COMMITTED, manager.EventType_GROUP_ABORTED:
			groups++
			if e.GetType() != wantGroup {
				b.problem("%s: the group ended %v, expected %v", id, e.GetType(), wantGroup)
			}
		}
	}
	if members != shards || groups != 1 {
		b.problem("%s: %d ACTOR_UPDATED and %d group end events, expected %d and 1", id, members, groups, shards)
	}
}

// checkVersions checks that the audit and the directory agree that every
// shard runs version want.
func (b *bank) checkVersions(id string, s books, want uint32) {
	for i, pid := range b.pids {
		e, ok := b.node.Directory().Lookup(pid)
		if !ok || e.Version != want || s.all[i] != want {
			b.problem("%s: after the update %s runs version %d (directory: %d), want %d", id, shardName(i), s.all[i], e.Version, want)
		}
	}
}

// verdict checks an audit: the total is the initial one and no ack or nack
// went astray.
func (b *bank) verdict(s books, what string) string {
	if s.total != b.initial || s.strays != 0 {
		b.problem("%s: total %s, want %s; %d acks or nacks for no pending transfer", what, money(s.total), money(b.initial), s.strays)
		return "FAILED"
	}
	return "ok"
}

// abortWithClientsPaused runs the failing update once more with the clients
// paused and the transfers settled, so that every shard's state can be
// compared exactly before and after.
func (b *bank) abortWithClientsPaused() error {
	b.pool.freeze()
	defer b.pool.thaw()
	if _, err := b.settle(); err != nil {
		return err
	}
	before, err := b.dump()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*askTimeout)
	defer cancel()
	aborted := false
	done, err := b.mgr.Run(ctx, b.pkg("bank-v3-again", "per-account history counters, clients paused", 2, 3), func(e *manager.Event) {
		if e.GetType() == manager.EventType_GROUP_ABORTED {
			aborted = true // read once Run has returned, after the last event
		}
	})
	if err != nil {
		return err
	}
	after, err := b.dump()
	if err != nil {
		return err
	}
	same := reflect.DeepEqual(before, after)
	fmt.Fprintf(b.w, "   once more with the clients paused and no transfer in flight: group aborted %v, package %s\n",
		aborted, strings.TrimPrefix(done.GetPackageOutcome().String(), "PACKAGE_OUTCOME_"))
	fmt.Fprintf(b.w, "     every shard's state (accounts, ledger) identical before and after: %v\n", same)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED || !aborted {
		b.problem("bank-v3-again ended %v (group aborted: %v), expected HALTED after GROUP_ABORTED", done.GetPackageOutcome(), aborted)
	}
	if !same {
		b.problem("the aborted update changed a shard's state:\n before %+v\n after  %+v", before, after)
	}
	return nil
}

// final stops the clients, waits for the transfers in flight to settle,
// and checks the books to the cent.
func (b *bank) final(elapsed time.Duration) error {
	b.pool.halt()
	settleStart := time.Now()
	reps, err := b.settle()
	if err != nil {
		return err
	}
	s := summarize(reps)
	fmt.Fprintf(b.w, "\n4. clients stopped after %v; the transfers in flight settled in %v\n", elapsed.Round(time.Millisecond), time.Since(settleStart).Round(time.Microsecond))
	fmt.Fprintf(b.w, "   final audit: balances %s (initial %s), sent between shards %s = received %s, %d pending, shards on %s\n",
		money(s.balance), money(b.initial), money(s.sent), money(s.received), s.pending, s.versions())
	accepted, refused, firstRefusal, lastVersions := b.pool.results()
	fmt.Fprintf(b.w, "   transfers: %s accepted by the shards, %s completed (credited and acknowledged), %s refunded, %s refused",
		grouped(accepted), grouped(s.completed), grouped(s.returned), grouped(refused))
	if firstRefusal != "" {
		fmt.Fprintf(b.w, " (the first: %s)", firstRefusal)
	}
	fmt.Fprintf(b.w, "\n   no client got an answer from v1 after one from v2 (the versions of their last answers: %s)\n", lastVersions)
	switch {
	case s.balance != b.initial || s.total != b.initial:
		b.problem("the final balances add up to %s, want %s", money(s.balance), money(b.initial))
	case s.sent != s.received || s.pending != 0:
		b.problem("%s sent between shards but %s received, %d pending", money(s.sent), money(s.received), s.pending)
	case accepted != s.completed+s.returned:
		b.problem("the shards accepted %d transfers, but %d completed and %d were refunded", accepted, s.completed, s.returned)
	case s.strays != 0:
		b.problem("%d acks or nacks came for no pending transfer", s.strays)
	}
	b.checkVersions("final audit", s, 2)
	if err := b.pool.failure(); err != nil {
		b.problem("%v", err)
	}
	return nil
}

// arm makes shard i's next migration to version 3 fail.
func (b *bank) arm(i int, reason string) error {
	if _, err := b.node.Root().RequestFuture(b.pids[i], &Arm{Reason: reason}, askTimeout).Result(); err != nil {
		return fmt.Errorf("%s did not answer Arm within %v: %w", shardName(i), askTimeout, err)
	}
	return nil
}

// dump returns a deep copy of every shard's state.
func (b *bank) dump() ([]actor.Actor, error) {
	var states []actor.Actor
	for i, pid := range b.pids {
		v, err := b.node.Root().RequestFuture(pid, &Dump{}, askTimeout).Result()
		if err != nil {
			return nil, fmt.Errorf("%s did not answer Dump within %v: %w", shardName(i), askTimeout, err)
		}
		states = append(states, v.(actor.Actor))
	}
	return states, nil
}

// settle waits, for at most askTimeout, until no transfer is pending: once
// the clients are paused, every transfer they started completes.
func (b *bank) settle() ([]*AuditReport, error) {
	deadline := time.Now().Add(askTimeout)
	for {
		reps, err := b.audit()
		if err != nil {
			return nil, err
		}
		s := summarize(reps)
		if s.pending == 0 {
			return reps, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d transfers (%s) still pending %v after the clients stopped", s.pending, money(s.pendingCents), askTimeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// auditCall is an audit sent to every shard, answers not yet read.
type auditCall []*actor.Future

type markedAudit struct {
	when string
	call auditCall
}

type sample struct {
	reps []*AuditReport
	err  error
}

// startAudit sends Audit to every shard at once.
func (b *bank) startAudit() auditCall {
	call := make(auditCall, len(b.pids))
	for i, pid := range b.pids {
		call[i] = b.node.Root().RequestFuture(pid, &Audit{}, askTimeout)
	}
	return call
}

func (c auditCall) wait() ([]*AuditReport, error) {
	reps := make([]*AuditReport, len(c))
	for i, f := range c {
		v, err := f.Result()
		if err != nil {
			return nil, fmt.Errorf("%s did not answer Audit within %v: %w", shardName(i), askTimeout, err)
		}
		r, ok := v.(*AuditReport)
		if !ok {
			return nil, fmt.Errorf("%s answered Audit with a %T", shardName(i), v)
		}
		reps[i] = r
	}
	return reps, nil
}

func (b *bank) audit() ([]*AuditReport, error) { return b.startAudit().wait() }

// books sums an audit.
type books struct {
	total, balance, pendingCents, sent, received int64
	completed, returned, strays                  int64
	accounts, pending                            int
	all                                          []uint32 // each shard's version
}

func summarize(reps []*AuditReport) books {
	var s books
	for _, r := range reps {
		s.total += r.Books()
		s.balance += r.Balance
		s.pendingCents += r.PendingCents
		s.sent += r.Sent
		s.received += r.Received
		s.completed += r.Completed
		s.returned += r.Returned
		s.strays += r.Strays
		s.accounts += r.Accounts
		s.pending += r.Pending
		s.all = append(s.all, r.Version)
	}
	return s
}

// versions lists the shards' versions: "v1 v1 v2 v2".
func (s books) versions() string {
	parts := make([]string, len(s.all))
	for i, v := range s.all {
		parts[i] = fmt.Sprintf("v%d", v)
	}
	return strings.Join(parts, " ")
}

// clientPool is the client goroutines. Each sends one transfer at a time,
// between two accounts on different shards, and waits for its answer.
type clientPool struct {
	gate sync.RWMutex // held for reading while a client waits for an answer
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once

	accepted, refused atomic.Int64
	maxSeen           [clients]atomic.Uint32 // the highest version each client saw

	mu           sync.Mutex
	firstRefusal string
	err          error
}

func startClients(root *actor.RootContext, pids []*actor.PID) *clientPool {
	p := &clientPool{stop: make(chan struct{})}
	for i := range clients {
		p.done.Add(1)
		go p.client(root, pids, i)
	}
	return p
}

// client moves random amounts: whole units while it has only seen version
// 1 answer, with cents once version 2 has. Version 1 refuses cents, so a
// client that saw version 2 and then version 1 would catch a group half
// updated.
func (p *clientPool) client(root *actor.RootContext, pids []*actor.PID, id int) {
	defer p.done.Done()
	rng := rand.New(rand.NewPCG(uint64(id), 0xba4c))
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		from := rng.IntN(shards * perShard)
		toShard := (from%shards + 1 + rng.IntN(shards-1)) % shards
		to := toShard + shards*rng.IntN(perShard)
		cents := int64(1+rng.IntN(20)) * 100
		if p.maxSeen[id].Load() >= 2 {
			cents += int64(rng.IntN(100))
		}
		p.gate.RLock()
		v, err := root.RequestFuture(pids[from%shards], &Transfer{From: accountName(from), To: accountName(to), Cents: cents}, askTimeout).Result()
		p.gate.RUnlock()
		if err != nil {
			p.fail(fmt.Errorf("client %d: %s did not answer a transfer within %v: %w", id+1, shardName(from%shards), askTimeout, err))
			return
		}
		r, ok := v.(*TransferReply)
		if !ok {
			p.fail(fmt.Errorf("client %d: the answer to Transfer is a %T", id+1, v))
			return
		}
		if seen := p.maxSeen[id].Load(); r.Version < seen {
			p.fail(fmt.Errorf("client %d: %s answered as version %d after another shard answered as version %d: the group was half updated", id+1, shardName(from%shards), r.Version, seen))
			return
		}
		p.maxSeen[id].Store(r.Version)
		if r.Refused != "" {
			p.refused.Add(1)
			p.mu.Lock()
			if p.firstRefusal == "" {
				p.firstRefusal = r.Refused
			}
			p.mu.Unlock()
			continue
		}
		p.accepted.Add(1)
	}
}

func (p *clientPool) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *clientPool) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// results returns the transfers accepted and refused, the first refusal,
// and the version each client heard from last: "v2 ×8".
func (p *clientPool) results() (accepted, refused int64, firstRefusal, last string) {
	p.mu.Lock()
	firstRefusal = p.firstRefusal
	p.mu.Unlock()
	seen := map[uint32]int{}
	for i := range p.maxSeen {
		seen[p.maxSeen[i].Load()]++
	}
	var vs []string
	for v := uint32(0); v <= 3; v++ {
		if seen[v] > 0 {
			vs = append(vs, fmt.Sprintf("v%d ×%d", v, seen[v]))
		}
	}
	return p.accepted.Load(), p.refused.Load(), firstRefusal, strings.Join(vs, ", ")
}

// freeze waits for the clients' transfers in progress to be answered and
// stops them there; thaw lets them go on.
func (p *clientPool) freeze() { p.gate.Lock() }
func (p *clientPool) thaw()   { p.gate.Unlock() }

// halt stops the clients for good; it may be called more than once.
func (p *clientPool) halt() {
	p.once.Do(func() {
		close(p.stop)
		p.done.Wait()
	})
}

// describe renders an event of the manager on one line.
func describe(e *manager.Event) string {
	switch e.GetType() {
	case manager.EventType_PACKAGE_STARTED:
		return e.GetPackageId() + ": " + e.GetReason()
	case manager.EventType_STEP_STARTED:
		return fmt.Sprintf("step %d: %s", e.GetStep(), e.GetReason())
	case manager.EventType_BATCH_STARTED:
		return fmt.Sprintf("batch %d", e.GetBatch())
	case manager.EventType_GROUP_STAGED:
		return fmt.Sprintf("group %s: every member staged after %s; commit sent to all", e.GetGroup(), human(e.GetLatencyNs()))
	case manager.EventType_ACTOR_UPDATED:
		s := fmt.Sprintf("%s v%d→v%d %s after %s", e.GetActor(), e.GetFromVersion(), e.GetToVersion(), strings.TrimPrefix(e.GetOutcome().String(), "OUTCOME_"), human(e.GetLatencyNs()))
		if e.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			reason := e.GetReason()
			if strings.HasPrefix(reason, "the group aborted") {
				reason = "the group aborted" // the rest repeats the failed member's reason
			}
			s += fmt.Sprintf(" in %s: %s", phase(e.GetPhase()), reason)
		}
		return s
	case manager.EventType_GROUP_COMMITTED:
		return fmt.Sprintf("group %s: every member committed, %s after the group started", e.GetGroup(), human(e.GetLatencyNs()))
	case manager.EventType_GROUP_ABORTED:
		return fmt.Sprintf("group %s: every member aborted, %s after the group started", e.GetGroup(), human(e.GetLatencyNs()))
	case manager.EventType_HALTED:
		// The reason ends with the failure, shown above.
		reason, _, _ := strings.Cut(e.GetReason(), "; the last:")
		return reason
	case manager.EventType_PACKAGE_DONE:
		return fmt.Sprintf("%s: %d updated, %d failed, after %s", strings.TrimPrefix(e.GetPackageOutcome().String(), "PACKAGE_OUTCOME_"), e.GetUpdated(), e.GetFailed(), human(e.GetLatencyNs()))
	}
	return e.GetReason()
}

func phase(p update.Phase) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(p.String(), "PHASE_")), "_", " ")
}

// human formats nanoseconds with three significant digits: 2.13ms, 850µs.
func human(ns int64) string {
	d := time.Duration(ns)
	p := time.Duration(1)
	for d/p >= 1000 {
		p *= 10
	}
	return d.Round(p).String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(strings.TrimRight(text, "\n"), "\n")
	return prefix + strings.Join(lines, prefix) + "\n"
}
