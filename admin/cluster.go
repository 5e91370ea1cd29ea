package admin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
	"google.golang.org/protobuf/proto"
)

// fanOut is what an operation that spans the cluster needs of its admin:
// the members to ask, the admins' name, and the bounds.
type fanOut struct {
	members []string // sorted, this node's own address included
	name    string
	timeout time.Duration
}

// fanOut returns the cluster's members as the admin sees them now:
// sorted, without duplicates or empty addresses, this node included even
// if Cluster.Members leaves it out (it may lag behind a join), or an
// error over MaxPeers.
func (a *adminActor) fanOut() (fanOut, error) {
	// A copy: the slice Members returns may be the implementation's own.
	ms := append(slices.Clone(a.cfg.Cluster.Members()), a.node.System().Address())
	ms = slices.DeleteFunc(ms, func(s string) bool { return s == "" })
	slices.Sort(ms)
	ms = slices.Compact(ms)
	if len(ms) > a.cfg.MaxPeers {
		return fanOut{}, fmt.Errorf("the cluster has %d members, over the admin's limit of %d (Config.MaxPeers): send the request to each member with local set", len(ms), a.cfg.MaxPeers)
	}
	return fanOut{members: ms, name: a.cfg.Name, timeout: a.cfg.PeerTimeout}, nil
}

func (f fanOut) pid(address string) *pa.PID { return pa.NewPID(address, f.name) }

// answer is one member's answer to a forwarded request: res, or why
// there is none.
type answer struct {
	address string
	res     any
	err     string
}

// askAll sends each member of f the request req returns for it (nil: not
// asked, its answer stays empty), each bounded by f.timeout, and calls
// then with the answers in member order once every asked member has
// answered or timed out. It never blocks the actor: each answer comes
// back through ReenterAfter.
func askAll(ctx pa.Context, f fanOut, members []string, req func(address string) proto.Message, then func([]answer)) {
	out := make([]answer, len(members))
	reqs := make([]proto.Message, len(members))
	left := 0
	for i, m := range members {
		out[i].address = m
		if reqs[i] = req(m); reqs[i] != nil {
			left++
		}
	}
	if left == 0 {
		then(out)
		return
	}
	for i, m := range members {
		if reqs[i] == nil {
			continue
		}
		fut := ctx.RequestFuture(f.pid(m), reqs[i], f.timeout)
		ctx.ReenterAfter(fut, func(res any, err error) {
			if err != nil {
				out[i].err = peerError(f, err)
			} else {
				out[i].res = res
			}
			if left--; left == 0 {
				then(out)
			}
		})
	}
}

// peerError says why a member gave no answer.
func peerError(f fanOut, err error) string {
	switch {
	case errors.Is(err, pa.ErrTimeout):
		return fmt.Sprintf("no answer within %v (admin Config.PeerTimeout): the member is down, unreachable or busy", f.timeout)
	case errors.Is(err, pa.ErrDeadLetter):
		return fmt.Sprintf("the request could not be delivered: the member is unreachable, or runs no admin service named %q", f.name)
	}
	return err.Error()
}

// refusedText is the reason of a member's refusal, if res is one.
func refusedText(res any) (string, []string, bool) {
	switch r := res.(type) {
	case *Refused:
		return r.GetReason(), nil, true
	case *manager.PackageRefused:
		return r.GetReason(), r.GetProblems(), true
	}
	return "", nil, false
}

// listOp lists the actors of every member: a page of the list sorted by
// member address and id, composed from each member's own list.
type listOp struct {
	f      fanOut
	req    *ListActors
	limit  int
	reply  *pa.PID
	status []*MemberStatus
	first  []*ActorList
	parts  [][]*ActorInfo
	want   []int // per member: the number of its actors the page takes
}

func (o *listOp) ask(offset, limit uint32) *ListActors {
	return &ListActors{Kind: o.req.GetKind(), Labels: o.req.GetLabels(), Offset: offset, Limit: limit, Local: true}
}

func (o *listOp) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*pa.Started); !ok {
		return
	}
	n := len(o.f.members)
	o.status, o.first = make([]*MemberStatus, n), make([]*ActorList, n)
	o.parts, o.want = make([][]*ActorInfo, n), make([]int, n)
	// First round: each member's first page, which holds its count and,
	// for the first page of the whole list, usually all that is needed.
	askAll(ctx, o.f, o.f.members, func(string) proto.Message { return o.ask(0, uint32(o.limit)) }, func(as []answer) {
		for i, an := range as {
			st := &MemberStatus{Address: an.address}
			o.status[i] = st
			switch r := an.res.(type) {
			case *ActorList:
				st.Answered, st.Total = true, r.GetTotal()
				o.first[i] = r
			case nil:
				st.Error = an.err
			default:
				st.Error = answerText(r)
			}
		}
		o.second(ctx)
	})
}

// second asks, of each member whose part of the page its first page does
// not hold, that part.
func (o *listOp) second(ctx pa.Context) {
	lo, hi := int(o.req.GetOffset()), int(o.req.GetOffset())+o.limit
	from := make(map[string]int)
	start := 0
	for i, m := range o.f.members {
		if !o.status[i].GetAnswered() {
			continue
		}
		t := int(o.status[i].GetTotal())
		a, b := max(lo, start)-start, min(hi, start+t)-start
		start += t
		if a >= b {
			continue
		}
		o.want[i] = b - a
		if have := o.first[i].GetActors(); b <= len(have) {
			o.parts[i] = have[a:b]
		} else {
			from[m] = a
		}
	}
	askAll(ctx, o.f, o.f.members, func(m string) proto.Message {
		a, ask := from[m]
		if !ask {
			return nil
		}
		i, _ := slices.BinarySearch(o.f.members, m)
		return o.ask(uint32(a), uint32(o.want[i]))
	}, func(as []answer) {
		for i, an := range as {
			if _, asked := from[an.address]; !asked {
				continue
			}
			switch r := an.res.(type) {
			case *ActorList:
				o.parts[i] = r.GetActors()
			case nil:
				o.status[i].Answered, o.status[i].Error = false, "its count came, its page did not: "+an.err
			default:
				o.status[i].Answered, o.status[i].Error = false, "its count came, its page did not: "+answerText(r)
			}
		}
		o.finish(ctx)
	})
}

func (o *listOp) finish(ctx pa.Context) {
	out := &ActorList{Members: o.status}
	full := true
	for i, st := range o.status {
		out.Total += st.GetTotal()
		if o.want[i] == 0 || !full {
			continue
		}
		if !st.GetAnswered() {
			// Its count came, its part of the page did not: the page
			// ends before it, so that the next one asks it again rather
			// than skip its actors.
			full = false
			continue
		}
		out.Actors = append(out.Actors, o.parts[i]...)
		if len(o.parts[i]) < o.want[i] {
			// A member whose page was short (a smaller page size, or
			// actors gone meanwhile): the next page starts after what
			// it gave, so that no actor is skipped.
			full = false
		}
	}
	if end := int(o.req.GetOffset()) + len(out.Actors); end < int(out.Total) && len(out.Actors) > 0 {
		out.NextOffset = uint32(end)
	}
	if o.reply != nil {
		ctx.Send(o.reply, out)
	}
	ctx.Stop(ctx.Self())
}

func answerText(res any) string {
	if reason, problems, ok := refusedText(res); ok {
		return "refused: " + RefusalText(reason, problems)
	}
	return fmt.Sprintf("answered with a %T", res)
}

// RefusalText puts a manager's refusal on one line: the reason's first
// line (the rest of a PackageRefused's reason lists its problems again),
// then the problems.
func RefusalText(reason string, problems []string) string {
	if len(problems) == 0 {
		return strings.Join(strings.Fields(reason), " ")
	}
	first, _, _ := strings.Cut(reason, "\n")
	return first + ": " + strings.Join(problems, "; ")
}

// cancelOp cancels a package on every member.
type cancelOp struct {
	f     fanOut
	id    string
	reply *pa.PID
}

func (o *cancelOp) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*pa.Started); !ok {
		return
	}
	askAll(ctx, o.f, o.f.members, func(string) proto.Message {
		return &CancelPackage{PackageId: o.id, Local: true}
	}, func(as []answer) {
		out := &ClusterPackage{PackageId: o.id, Members: memberPackages(as)}
		for _, m := range out.Members {
			out.Accepted = out.Accepted || m.GetAccepted() != nil
		}
		if !out.Accepted {
			out.Reason = fmt.Sprintf("no member runs package %q", clipName(o.id))
		}
		if o.reply != nil {
			ctx.Send(o.reply, out)
		}
		ctx.Stop(ctx.Self())
	})
}

func memberPackages(as []answer) []*MemberPackage {
	out := make([]*MemberPackage, len(as))
	for i, an := range as {
		mp := &MemberPackage{Address: an.address}
		switch r := an.res.(type) {
		case *manager.PackageAccepted:
			mp.Accepted = r
		case nil:
			mp.Error = an.err
		default:
			if reason, problems, ok := refusedText(r); ok {
				mp.Refused, mp.Problems = reason, problems
			} else {
				mp.Error = answerText(r)
			}
		}
		out[i] = mp
	}
	return out
}

// firstProblem says which member did not accept, and why.
func firstProblem(ms []*MemberPackage) string {
	for _, m := range ms {
		switch {
		case m.GetError() != "":
			return fmt.Sprintf("member %s did not answer: %s", m.GetAddress(), m.GetError())
		case m.GetAccepted() == nil:
			return fmt.Sprintf("member %s refused it: %s", m.GetAddress(), RefusalText(m.GetRefused(), m.GetProblems()))
		}
	}
	return ""
}

// clusterScope checks that a package can run on every member as it is,
// and returns the kinds it moves as a whole (every actor of the kind, no
// label), whose cluster target it sets once every member completed. A
// package that names actors, or groups them, cannot: names and groups are
// a member's (its manager stages a group within its process), and every
// other member would refuse a name it does not run.
func clusterScope(p *manifest.Package) (map[string]uint32, error) {
	if len(p.Groups) > 0 {
		return nil, fmt.Errorf("package %q has groups: an all-or-nothing group is staged by one member's manager, so a cluster-wide package cannot have one; send it to the member that runs the group's actors with local set (molt apply --local)", clipName(p.ID))
	}
	whole := make(map[string]uint32)
	for _, u := range p.Updates {
		if len(u.Targets.Actors) > 0 {
			return nil, fmt.Errorf("package %q names actors of kind %s: every other member would refuse a name it does not run; select them by kind and labels (targets: all, labels; a grain by its identity label), or send it to the member that runs them with local set (molt apply --local)", clipName(p.ID), clipName(u.Kind))
		}
		if u.Targets.All && len(u.Targets.Labels) == 0 {
			whole[u.Kind] = u.To
		}
	}
	return whole, nil
}

// packageOp runs a package on every member: plan everywhere, subscribe
// to every member's events, run everywhere, follow to every member's end,
// then set the cluster targets of the kinds it moved as a whole.
type packageOp struct {
	f       fanOut
	cluster Cluster
	req     *RunPackage
	whole   map[string]uint32
	reply   *pa.PID
	parent  *pa.PID
	bound   time.Duration

	id        string
	began     time.Time
	running   map[string]bool // members whose package runs and has not ended
	done      map[string]*MemberDone
	cancelled map[string]bool // members the op asked to cancel
	answered  bool            // the requester has the run's answer
	watched   bool            // the op watches the members' admins
	halting   bool
	finished  bool
	timer     *time.Timer
}

// packageTimeout tells a packageOp that ClusterPackageTimeout ran out.
type packageTimeout struct{}

func (o *packageOp) forward(dryRun bool) *RunPackage {
	return &RunPackage{Format: o.req.GetFormat(), Document: o.req.GetDocument(), DryRun: dryRun, Summary: o.req.GetSummary(), Local: true}
}

func (o *packageOp) answer(ctx pa.Context, res *ClusterPackage) {
	if o.reply != nil {
		ctx.Send(o.reply, res)
	}
}

func (o *packageOp) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *pa.Started:
		o.began = time.Now()
		o.plan(ctx)
	case *pa.Stopping:
		if o.timer != nil {
			o.timer.Stop()
		}
		if o.watched {
			// protoactor keeps a stopped watcher in its watchees'
			// lists: a member's admin would tell this op, when it
			// stops, that it stopped, and a node that has gone since
			// holds the member's shutdown while remote retries it.
			for _, m := range o.f.members {
				ctx.Unwatch(o.f.pid(m))
			}
		}
	case *MemberEvent:
		o.onEvent(ctx, m)
	case *pa.Terminated:
		// Also before every member has answered the run (o.running is
		// filled then): a member lost meanwhile must not be awaited.
		addr := m.GetWho().GetAddress()
		if _, ended := o.done[addr]; o.done != nil && !ended {
			o.lost(ctx, addr, "the member's admin stopped, or the connection to the member broke, before its package ended")
		}
	case packageTimeout:
		for addr := range o.running {
			o.lost(ctx, addr, fmt.Sprintf("its package did not end within %v (admin Config.ClusterPackageTimeout)", o.bound))
		}
	}
}

// plan asks every member for its plan: nothing runs unless every member
// accepts the package.
func (o *packageOp) plan(ctx pa.Context) {
	askAll(ctx, o.f, o.f.members, func(string) proto.Message { return o.forward(true) }, func(as []answer) {
		res := &ClusterPackage{DryRun: o.req.GetDryRun(), Members: memberPackages(as)}
		for _, m := range res.Members {
			if m.GetAccepted() != nil {
				res.PackageId = m.GetAccepted().GetPackageId()
				break
			}
		}
		o.id = res.PackageId
		if why := firstProblem(res.Members); why != "" {
			res.Reason = "nothing ran on any member: " + why
			o.answer(ctx, res)
			ctx.Stop(ctx.Self())
			return
		}
		if o.req.GetDryRun() {
			res.Accepted = true
			o.answer(ctx, res)
			ctx.Stop(ctx.Self())
			return
		}
		o.subscribe(ctx)
	})
}

// subscribe makes every member send its events to the op, before any
// runs the package, so that none is missed.
func (o *packageOp) subscribe(ctx pa.Context) {
	sub := &Subscribe{Subscriber: update.RefOf(ctx.Self()), MemberEvents: true}
	askAll(ctx, o.f, o.f.members, func(string) proto.Message { return sub }, func(as []answer) {
		for _, an := range as {
			if _, ok := an.res.(*Subscribed); ok {
				continue
			}
			why := an.err
			if why == "" {
				why = answerText(an.res)
			}
			o.unsubscribe(ctx)
			o.answer(ctx, &ClusterPackage{PackageId: o.id, Reason: fmt.Sprintf("nothing ran on any member: member %s's events cannot be followed: %s", an.address, why)})
			ctx.Stop(ctx.Self())
			return
		}
		for _, m := range o.f.members {
			// A member whose admin stops, or whose connection breaks,
			// is reported lost instead of awaited.
			ctx.Watch(o.f.pid(m))
		}
		o.watched = true
		o.run(ctx)
	})
}

func (o *packageOp) unsubscribe(ctx pa.Context) {
	for _, m := range o.f.members {
		ctx.Send(o.f.pid(m), &Unsubscribe{Subscriber: update.RefOf(ctx.Self())})
	}
}

func (o *packageOp) run(ctx pa.Context) {
	o.running, o.done, o.cancelled = make(map[string]bool), make(map[string]*MemberDone), make(map[string]bool)
	askAll(ctx, o.f, o.f.members, func(string) proto.Message { return o.forward(false) }, func(as []answer) {
		res := &ClusterPackage{PackageId: o.id, Members: memberPackages(as), Accepted: true}
		for _, m := range res.Members {
			addr := m.GetAddress()
			if m.GetAccepted() != nil {
				if _, ended := o.done[addr]; !ended {
					o.running[addr] = true
				}
				continue
			}
			res.Accepted = false
			why := m.GetError()
			if why == "" {
				why = "refused to run it: " + RefusalText(m.GetRefused(), m.GetProblems())
			}
			o.done[addr] = &MemberDone{Address: addr, Error: why}
		}
		if !res.Accepted {
			// Planned everywhere, yet refused now (a package of that id
			// already running there, a limit reached meanwhile): the
			// others stop, as after any member's failure.
			res.Reason = "not every member runs it, and those that do are cancelled: " + firstProblem(res.Members)
			o.halt(ctx)
		}
		if o.halting {
			// A member halted or was lost before every member had
			// answered: those that run it now are cancelled too.
			o.cancelRunning(ctx)
		}
		o.answer(ctx, res)
		o.answered = true
		self, root := ctx.Self(), ctx.ActorSystem().Root
		o.timer = time.AfterFunc(o.bound, func() { root.Send(self, packageTimeout{}) })
		o.maybeDone(ctx)
	})
}

func (o *packageOp) onEvent(ctx pa.Context, m *MemberEvent) {
	e := m.GetEvent()
	addr := m.GetMember()
	if o.done == nil || o.finished || e.GetPackageId() != o.id {
		return // before the run, or another package's
	}
	if _, member := slices.BinarySearch(o.f.members, addr); !member {
		return
	}
	if _, ended := o.done[addr]; ended && e.GetType() != manager.EventType_PACKAGE_REVISED {
		return
	}
	ctx.Send(o.parent, m)
	if e.GetType() != manager.EventType_PACKAGE_DONE {
		return
	}
	delete(o.running, addr)
	o.done[addr] = &MemberDone{Address: addr, Done: e}
	switch e.GetPackageOutcome() {
	case manager.PackageOutcome_PACKAGE_OUTCOME_HALTED, manager.PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK:
		// The member's rollout stopped at its failure budget: the
		// cluster's stops too. A cancel is the operator's, sent to
		// every member that should stop (molt cancel reaches them all
		// unless --local); failures within a member's budget are that
		// member's to accept.
		o.halt(ctx)
	}
	o.maybeDone(ctx)
}

func (o *packageOp) lost(ctx pa.Context, addr, why string) {
	delete(o.running, addr)
	o.done[addr] = &MemberDone{Address: addr, Error: why}
	o.halt(ctx)
	o.maybeDone(ctx)
}

// halt cancels the package on the members where it still runs: once one
// member's rollout halted (or the member was lost, or did not run it),
// the cluster's rollout stops, as a manager's stops at its failure
// budget.
func (o *packageOp) halt(ctx pa.Context) {
	if o.halting {
		return
	}
	o.halting = true
	o.cancelRunning(ctx)
}

// cancelRunning cancels the package on every member it runs on and that
// was not asked to cancel yet.
func (o *packageOp) cancelRunning(ctx pa.Context) {
	for addr := range o.running {
		if o.cancelled[addr] {
			continue
		}
		o.cancelled[addr] = true
		ctx.Send(o.f.pid(addr), &CancelPackage{PackageId: o.id, Local: true})
	}
}

func (o *packageOp) maybeDone(ctx pa.Context) {
	if !o.answered || o.finished || len(o.running) > 0 || len(o.done) < len(o.f.members) {
		return
	}
	o.finished = true
	out := &ClusterPackageDone{PackageId: o.id, Outcome: manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED, LatencyNs: time.Since(o.began).Nanoseconds()}
	worst := 0
	for _, addr := range o.f.members {
		d := o.done[addr]
		out.Members = append(out.Members, d)
		outcome := d.GetDone().GetPackageOutcome()
		if d.GetError() != "" {
			outcome = manager.PackageOutcome_PACKAGE_OUTCOME_HALTED
		}
		// The member that caused the end speaks for the package: a
		// member lost, or halted, before the members it made the op
		// cancel.
		if r := severity(d); r > worst {
			worst, out.Outcome = r, outcome
			if d.GetError() != "" {
				out.Reason = fmt.Sprintf("member %s: %s", addr, d.GetError())
			} else {
				out.Reason = fmt.Sprintf("member %s: package %s", addr, strings.ReplaceAll(enumText(outcome.String()), "_", " "))
				if r := d.GetDone().GetReason(); r != "" {
					out.Reason += ": " + r
				}
			}
		}
	}
	if out.Outcome == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		out.Targets = o.setTargets()
	}
	ctx.Send(o.parent, out)
	o.unsubscribe(ctx)
	ctx.Stop(ctx.Self())
}

// setTargets sets, once every member completed, the cluster target of
// each kind the package moved as a whole: otherwise an activation started
// later (a grain called for the first time, or moved to another member)
// would start at the old target, and the next change of the cluster's
// topology would bring the moved grains back to it.
func (o *packageOp) setTargets() []*KindTarget {
	var out []*KindTarget
	kinds := make([]string, 0, len(o.whole))
	for k := range o.whole {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		err := o.cluster.SetVersion(k, o.whole[k])
		if errors.Is(err, ErrNotClusterKind) {
			continue // named actors: the package moved them, nothing else places them
		}
		t := &KindTarget{Kind: k, Version: o.whole[k]}
		if err != nil {
			t.Error = err.Error()
		}
		out = append(out, t)
	}
	return out
}

// severity ranks how a member's package ended, for the package's
// outcome: completed, cancelled, completed with failures, rolled back,
// halted, lost.
func severity(d *MemberDone) int {
	if d.GetError() != "" {
		return 5
	}
	switch d.GetDone().GetPackageOutcome() {
	case manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED:
		return 0
	case manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED:
		return 1
	case manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED_WITH_FAILURES:
		return 2
	case manager.PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK:
		return 3
	}
	return 4
}

// enumText turns PACKAGE_OUTCOME_HALTED into "halted".
func enumText(s string) string {
	return strings.ToLower(strings.TrimPrefix(s, "PACKAGE_OUTCOME_"))
}
