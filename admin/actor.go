package admin

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/internal/future"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/takeover"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
	"google.golang.org/protobuf/proto"
)

type adminActor struct {
	node *molt.Node
	mgr  *manager.Manager // nil: no package requests
	cfg  Config

	subscribers map[pidKey]subscriber
	ops         map[pidKey]bool // running UpdateActors operations, children of the admin
	seq         uint64          // for update ids the admin makes
	started     int64           // the admin's start, in every id it makes, so that a restarted node's ids differ
	history     history         // what packages did, to roll back the last
}

type pidKey struct{ address, id string }

// subscriber is who receives the admin's events; a member subscriber (an
// admin running a cluster-wide package) gets this node's manager events
// alone, as MemberEvent.
type subscriber struct {
	pid    *pa.PID
	member bool
}

func keyOf(pid *pa.PID) pidKey { return pidKey{pid.GetAddress(), pid.GetId()} }

func newAdminActor(node *molt.Node, m *manager.Manager, cfg Config) *adminActor {
	return &adminActor{
		node:        node,
		mgr:         m,
		cfg:         cfg,
		subscribers: make(map[pidKey]subscriber),
		ops:         make(map[pidKey]bool),
		started:     time.Now().UnixNano(),
		history:     newHistory(cfg.MaxTrackedPackages),
	}
}

func (a *adminActor) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *pa.Stopping:
		if a.mgr != nil {
			ctx.Send(a.mgr.PID(), &manager.Unsubscribe{Subscriber: update.RefOf(ctx.Self())})
		}
		return
	case *pa.Terminated:
		k := keyOf(m.GetWho())
		delete(a.subscribers, k)
		delete(a.ops, k)
		return
	case *manager.Event:
		if fromThisProcess(ctx) {
			a.relay(ctx, m)
		}
		return
	case *MemberEvent, *ClusterPackageDone:
		// From the admin's own cluster-wide packages (its children):
		// one from another process is not this admin's to relay.
		if fromThisProcess(ctx) {
			a.relayCluster(ctx, m.(proto.Message))
		}
		return
	case *manager.Subscribed, *manager.Unsubscribed:
		return // the manager's answers to the admin's own subscription
	case *ListActors, *DescribeKind, *UpdateActors, *RunPackage, *CancelPackage, *RollBackLast, *Subscribe, *Unsubscribe, *TakeoverStatus:
	default:
		return
	}
	msg := ctx.Message().(proto.Message)
	if err := authorize(ctx); err != nil {
		a.refuse(ctx, msg, err.Error())
		return
	}
	switch m := msg.(type) {
	case *ListActors:
		a.list(ctx, m)
	case *DescribeKind:
		a.describe(ctx, m)
	case *UpdateActors:
		a.update(ctx, m)
	case *RunPackage:
		a.runPackage(ctx, m)
	case *CancelPackage:
		a.cancelPackage(ctx, m)
	case *RollBackLast:
		a.rollBackLast(ctx, m)
	case *Subscribe:
		a.subscribe(ctx, m)
	case *Unsubscribe:
		a.unsubscribe(ctx, m)
	case *TakeoverStatus:
		a.takeoverStatus(ctx, m)
	}
}

// refuse answers the sender, if any, that the request was not acted on.
func (a *adminActor) refuse(ctx pa.Context, req proto.Message, reason string) {
	if s := ctx.Sender(); s != nil {
		ctx.Send(s, &Refused{Request: string(req.ProtoReflect().Descriptor().Name()), Reason: reason})
	}
}

func (a *adminActor) answer(ctx pa.Context, res proto.Message) {
	if s := ctx.Sender(); s != nil {
		ctx.Send(s, res)
	}
}

// checkString says what is wrong with a request's string, if anything.
func (a *adminActor) checkString(field, s string) error {
	if len(s) > a.cfg.MaxStringBytes {
		return fmt.Errorf("%s is %d bytes, over the admin's limit of %d (Config.MaxStringBytes)", field, len(s), a.cfg.MaxStringBytes)
	}
	return nil
}

func (a *adminActor) checkLabels(field string, labels map[string]string) error {
	if len(labels) > a.cfg.MaxLabels {
		return fmt.Errorf("%s has %d labels, over the admin's limit of %d (Config.MaxLabels)", field, len(labels), a.cfg.MaxLabels)
	}
	for k, v := range labels {
		if err := a.checkString(field+" key", k); err != nil {
			return err
		}
		if err := a.checkString(field+"["+clipName(k)+"]", v); err != nil {
			return err
		}
	}
	return nil
}

func (a *adminActor) checkRef(field string, r *update.ActorRef) error {
	if err := a.checkString(field+".id", r.GetId()); err != nil {
		return err
	}
	return a.checkString(field+".address", r.GetAddress())
}

// clipName shortens a name from a request for a reason: the reason must
// stay bounded whatever the request held.
func clipName(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

func hasLabels(e registry.Entry, want map[string]string) bool {
	for k, v := range want {
		if got, ok := e.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (a *adminActor) list(ctx pa.Context, m *ListActors) {
	if err := a.checkString("kind", m.GetKind()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	if err := a.checkLabels("labels", m.GetLabels()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	limit := int(m.GetLimit())
	if limit == 0 {
		limit = a.cfg.DefaultPageSize
	}
	limit = min(limit, a.cfg.MaxPageSize)
	if a.cfg.Cluster != nil && !m.GetLocal() {
		f, err := a.fanOut()
		if err != nil {
			a.refuse(ctx, m, err.Error())
			return
		}
		a.spawnOp(ctx, m, &listOp{f: f, req: m, limit: limit, reply: ctx.Sender()})
		return
	}
	offset := int(m.GetOffset())
	out := &ActorList{}
	matched := 0
	for _, e := range a.node.Directory().List(m.GetKind()) {
		if !hasLabels(e, m.GetLabels()) {
			continue
		}
		matched++
		if matched <= offset || len(out.Actors) >= limit {
			continue
		}
		out.Actors = append(out.Actors, a.info(e))
	}
	out.Total = uint32(matched)
	if end := offset + len(out.Actors); end < matched && len(out.Actors) > 0 {
		out.NextOffset = uint32(end)
	}
	a.answer(ctx, out)
}

func (a *adminActor) info(e registry.Entry) *ActorInfo {
	in := &ActorInfo{Name: e.PID.GetId(), Pid: update.RefOf(e.PID), Kind: e.Kind, Version: e.Version, Labels: maps.Clone(e.Labels)}
	if s, ok := a.node.Status(e.PID); ok {
		// Status is read after the directory's list: the actor may have
		// been updated in between, and its version is the newer one.
		in.Version = s.Version
		in.Queued, in.Held = uint32(s.Queued), uint32(s.Held)
		in.LastUpdate = s.LastUpdate
	}
	return in
}

func (a *adminActor) describe(ctx pa.Context, m *DescribeKind) {
	if err := a.checkString("kind", m.GetKind()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	cat := a.node.Catalog()
	versions, ok := cat.Describe(m.GetKind())
	if !ok {
		a.refuse(ctx, m, fmt.Sprintf("kind %q is not registered in the node's catalogue (registered: %s)", clipName(m.GetKind()), strings.Join(cat.Kinds(), ", ")))
		return
	}
	live := make(map[uint32]uint32)
	a.node.Directory().Range(m.GetKind(), func(e registry.Entry) bool {
		live[e.Version]++
		return true
	})
	out := &KindDescription{Kind: m.GetKind()}
	for _, v := range versions {
		vi := &VersionInfo{Version: v.Version, State: v.State, Codec: v.Codec, Declared: v.Declared, Accepts: v.Accepts, Cloned: v.Cloned, LiveActors: live[v.Version]}
		for _, ad := range v.Adapters {
			vi.Adapters = append(vi.Adapters, &Adapter{From: ad.From, To: ad.To})
		}
		out.Versions = append(out.Versions, vi)
	}
	for _, mg := range cat.Migrations(m.GetKind()) {
		out.Migrations = append(out.Migrations, &Migration{From: mg.From, To: mg.To, Pure: mg.Pure, Down: mg.To < mg.From})
	}
	a.answer(ctx, out)
}

// update starts an UpdateActors as a child operation, which answers the
// sender itself: the admin goes on serving while the actors update.
func (a *adminActor) update(ctx pa.Context, m *UpdateActors) {
	targets, err := a.select_(m)
	if err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	id := m.GetUpdateId()
	if id == "" {
		a.seq++
		id = fmt.Sprintf("molt-admin-%d-%d", a.started, a.seq)
	}
	req := &update.UpdateActor{
		ToVersion:   m.GetToVersion(),
		FromVersion: m.GetFromVersion(),
		Deadline:    m.GetDeadline(),
		UpdateId:    id,
		Stage:       m.GetStage(),
		Order:       m.GetOrder(),
	}
	if err := req.Validate(); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	if len(targets) == 0 {
		a.answer(ctx, &UpdateActorsResult{UpdateId: id})
		return
	}
	a.spawnOp(ctx, m, newOp(req, targets, ctx.Sender()))
}

// spawnOp starts an operation as a child of the admin, which answers the
// requester itself, or refuses req over MaxOperations.
func (a *adminActor) spawnOp(ctx pa.Context, req proto.Message, o pa.Actor) {
	if len(a.ops) >= a.cfg.MaxOperations {
		a.refuse(ctx, req, fmt.Sprintf("%d operations are running from this admin, its limit (Config.MaxOperations); wait for their answers and send it again", len(a.ops)))
		return
	}
	pid := ctx.Spawn(pa.PropsFromProducer(func() pa.Actor { return o }, pa.WithDispatcher(a.node.Dispatcher())))
	a.ops[keyOf(pid)] = true
}

// select_ returns the live actors an UpdateActors names, sorted by PID,
// or why the request is refused.
func (a *adminActor) select_(m *UpdateActors) ([]*pa.PID, error) {
	given := 0
	for _, set := range []bool{m.GetName() != "", m.GetPid() != nil, m.GetSelector() != nil} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, fmt.Errorf("name the actors to update with exactly one of name, pid and selector (%d given)", given)
	}
	dir := a.node.Directory()
	switch {
	case m.GetName() != "":
		if err := a.checkString("name", m.GetName()); err != nil {
			return nil, err
		}
		for _, e := range dir.ByName(m.GetName()) {
			if e.PID.GetAddress() == a.node.System().Address() {
				return []*pa.PID{e.PID}, nil
			}
		}
		return nil, fmt.Errorf("no live molt actor is named %q on this node", clipName(m.GetName()))
	case m.GetPid() != nil:
		if err := a.checkRef("pid", m.GetPid()); err != nil {
			return nil, err
		}
		e, ok := dir.Lookup(pa.NewPID(m.GetPid().GetAddress(), m.GetPid().GetId()))
		if !ok {
			return nil, fmt.Errorf("no live molt actor of this node has the PID %s/%s", clipName(m.GetPid().GetAddress()), clipName(m.GetPid().GetId()))
		}
		return []*pa.PID{e.PID}, nil
	}
	sel := m.GetSelector()
	if sel.GetKind() == "" {
		return nil, fmt.Errorf("the selector names no kind: an update goes to one kind's actors")
	}
	if err := a.checkString("selector.kind", sel.GetKind()); err != nil {
		return nil, err
	}
	if err := a.checkLabels("selector.labels", sel.GetLabels()); err != nil {
		return nil, err
	}
	var out []*pa.PID
	for _, e := range dir.List(sel.GetKind()) {
		if !hasLabels(e, sel.GetLabels()) {
			continue
		}
		if len(out) == a.cfg.MaxTargets {
			return nil, fmt.Errorf("the selector selects more than %d actors, the admin's limit (Config.MaxTargets): run an update package through the manager (RunPackage), which updates a fleet in batches with a failure budget", a.cfg.MaxTargets)
		}
		out = append(out, e.PID)
	}
	return out, nil
}

// managerRequest sends req to the manager and answers the sender with the
// manager's answer, without blocking the admin meanwhile.
func (a *adminActor) managerRequest(ctx pa.Context, asked proto.Message, req proto.Message, accepted func(*manager.PackageAccepted)) {
	if a.mgr == nil {
		a.refuse(ctx, asked, "the admin runs without an update manager (admin.Spawn was given none)")
		return
	}
	sender := ctx.Sender()
	f := ctx.RequestFuture(a.mgr.PID(), req, a.cfg.ManagerTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		if err != nil {
			a.refuse(ctx, asked, fmt.Sprintf("the update manager did not answer within %v: %v", a.cfg.ManagerTimeout, err))
			return
		}
		if acc, ok := res.(*manager.PackageAccepted); ok && accepted != nil {
			accepted(acc)
		}
		if sender != nil {
			ctx.Send(sender, res)
		}
	})
}

func (a *adminActor) runPackage(ctx pa.Context, m *RunPackage) {
	if n := len(m.GetDocument()); n > a.cfg.MaxDocumentBytes {
		a.refuse(ctx, m, fmt.Sprintf("the document is %d bytes, over the admin's limit of %d (Config.MaxDocumentBytes)", n, a.cfg.MaxDocumentBytes))
		return
	}
	if err := a.checkString("format", m.GetFormat()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	if a.cfg.Cluster != nil && !m.GetLocal() {
		a.runClusterPackage(ctx, m)
		return
	}
	var pkg *manifest.Package
	if !m.GetDryRun() {
		// The admin reads the package too, for its groups and order, so
		// that its rollback keeps them; the manager's reading decides
		// whether it runs.
		if f, err := manifest.ParseFormat(m.GetFormat()); err == nil {
			pkg, _ = manifest.LoadLimited(bytes.NewReader(m.GetDocument()), f, manifest.Limits{MaxBytes: a.cfg.MaxDocumentBytes})
		}
	}
	req := &manager.RunPackage{Format: m.GetFormat(), Document: m.GetDocument(), DryRun: m.GetDryRun(), Summary: m.GetSummary()}
	a.managerRequest(ctx, m, req, func(acc *manager.PackageAccepted) {
		if pkg != nil && !acc.GetDryRun() {
			a.history.document(acc.GetPackageId(), pkg)
		}
	})
}

func (a *adminActor) cancelPackage(ctx pa.Context, m *CancelPackage) {
	if err := a.checkString("package_id", m.GetPackageId()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	if a.cfg.Cluster != nil && !m.GetLocal() {
		f, err := a.fanOut()
		if err != nil {
			a.refuse(ctx, m, err.Error())
			return
		}
		a.spawnOp(ctx, m, &cancelOp{f: f, id: m.GetPackageId(), reply: ctx.Sender()})
		return
	}
	a.managerRequest(ctx, m, &manager.CancelPackage{PackageId: m.GetPackageId()}, nil)
}

// runClusterPackage runs a package on every member (packageOp), once it
// is known to fit a cluster: read here, as the members will read it.
func (a *adminActor) runClusterPackage(ctx pa.Context, m *RunPackage) {
	f, err := a.fanOut()
	if err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	format, err := manifest.ParseFormat(m.GetFormat())
	if err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	pkg, err := manifest.LoadLimited(bytes.NewReader(m.GetDocument()), format, manifest.Limits{MaxBytes: a.cfg.MaxDocumentBytes})
	if err != nil {
		a.refuse(ctx, m, "the package cannot be read: "+err.Error())
		return
	}
	whole, err := clusterScope(pkg)
	if err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	a.spawnOp(ctx, m, &packageOp{f: f, cluster: a.cfg.Cluster, req: m, whole: whole, reply: ctx.Sender(),
		parent: ctx.Self(), bound: a.cfg.ClusterPackageTimeout})
}

func (a *adminActor) rollBackLast(ctx pa.Context, m *RollBackLast) {
	if a.mgr == nil {
		a.refuse(ctx, m, "the admin runs without an update manager (admin.Spawn was given none)")
		return
	}
	pkg, err := a.history.inverse()
	if err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	doc, err := manifestJSON(pkg)
	if err != nil {
		a.refuse(ctx, m, "the inverse package could not be written: "+err.Error())
		return
	}
	req := &manager.RunPackage{Format: "json", Document: doc, DryRun: m.GetDryRun(), Summary: m.GetSummary()}
	a.managerRequest(ctx, m, req, func(acc *manager.PackageAccepted) {
		if !acc.GetDryRun() {
			a.history.document(acc.GetPackageId(), pkg)
		}
	})
}

// party returns whom a Subscribe or Unsubscribe is about: the named
// subscriber, or else the sender.
func party(ctx pa.Context, named *update.ActorRef) *pa.PID {
	if p := named.PID(); p != nil {
		return p
	}
	return ctx.Sender()
}

func (a *adminActor) subscribe(ctx pa.Context, m *Subscribe) {
	if err := a.checkRef("subscriber", m.GetSubscriber()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	if a.mgr == nil {
		a.refuse(ctx, m, "the admin runs without an update manager (admin.Spawn was given none): there are no events")
		return
	}
	sub := party(ctx, m.GetSubscriber())
	if sub == nil {
		return // a plain Send naming no one: nobody to subscribe or tell
	}
	if future.Is(sub) {
		a.refuse(ctx, m, fmt.Sprintf("%s is a future (RequestFuture), which takes one answer, not a stream of events: name the actor to receive them in subscriber", sub))
		return
	}
	k := keyOf(sub)
	_, already := a.subscribers[k]
	if !already {
		if len(a.subscribers) >= a.cfg.MaxSubscribers {
			a.refuse(ctx, m, fmt.Sprintf("the admin has %d subscribers, its limit (Config.MaxSubscribers)", len(a.subscribers)))
			return
		}
		a.subscribers[k] = subscriber{pid: sub, member: m.GetMemberEvents()}
		ctx.Watch(sub)
	}
	ack := &Subscribed{Subscriber: update.RefOf(sub), Already: already, Subscribers: uint32(len(a.subscribers))}
	if s := ctx.Sender(); s != nil {
		ctx.Send(s, ack)
	} else {
		ctx.Send(sub, ack)
	}
}

func (a *adminActor) unsubscribe(ctx pa.Context, m *Unsubscribe) {
	if err := a.checkRef("subscriber", m.GetSubscriber()); err != nil {
		a.refuse(ctx, m, err.Error())
		return
	}
	sub := party(ctx, m.GetSubscriber())
	if sub == nil {
		return
	}
	k := keyOf(sub)
	_, was := a.subscribers[k]
	if was {
		delete(a.subscribers, k)
		ctx.Unwatch(sub)
	}
	a.answer(ctx, &Unsubscribed{Subscriber: update.RefOf(sub), Was: was})
}

// relay passes a manager event to the subscribers, and records what it
// says a package did.
func (a *adminActor) relay(ctx pa.Context, e *manager.Event) {
	var me *MemberEvent
	for _, s := range a.subscribers {
		if !s.member {
			ctx.Send(s.pid, e)
			continue
		}
		if me == nil {
			me = &MemberEvent{Member: a.node.System().Address(), Event: e}
		}
		ctx.Send(s.pid, me)
	}
	a.history.record(e)
}

// relayCluster passes what a cluster-wide package of this admin says to
// the subscribers, but member subscribers: they follow this node's own
// manager, not what this admin runs across the cluster.
func (a *adminActor) relayCluster(ctx pa.Context, m proto.Message) {
	for _, s := range a.subscribers {
		if !s.member {
			ctx.Send(s.pid, m)
		}
	}
}

// takeoverStatus asks the node's takeover service for its progress and
// answers the sender with it, without blocking the admin meanwhile. The
// service runs in this process, so the admin's request passes its access
// control; the sender's passed the admin's.
func (a *adminActor) takeoverStatus(ctx pa.Context, m *TakeoverStatus) {
	sender := ctx.Sender()
	svc := pa.NewPID(a.node.System().Address(), takeover.ServiceName)
	if _, ok := a.node.System().ProcessRegistry.GetLocal(takeover.ServiceName); !ok {
		a.answer(ctx, &TakeoverProgress{})
		return
	}
	f := ctx.RequestFuture(svc, &takeover.Status{}, a.cfg.TakeoverTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		switch p, ok := res.(*takeover.Progress); {
		case errors.Is(err, pa.ErrDeadLetter):
			// Stopped since it was looked up.
			res = &TakeoverProgress{}
		case err != nil:
			a.refuse(ctx, m, fmt.Sprintf("the takeover service %q did not answer within %v (Config.TakeoverTimeout): %v", takeover.ServiceName, a.cfg.TakeoverTimeout, err))
			return
		case ok:
			res = &TakeoverProgress{Serving: true, Progress: p}
		default:
			a.refuse(ctx, m, fmt.Sprintf("the takeover service %q answered Status with a %T", takeover.ServiceName, res))
			return
		}
		if sender != nil {
			ctx.Send(sender, res.(proto.Message))
		}
	})
}
