package actor

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/internal/protocol"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
)

// An actor moves from one process to another (a takeover) in two halves,
// each one this package's part of the six phases:
//
//   - In the process it leaves, Export runs notification, preparation and
//     state checking, then seals the state (the export's state transfer)
//     and stays staged, holding everything, until Decide: committed to the
//     PID it has in the other process, its behaviour is replaced by a
//     forwarder that sends that PID every message held or still arriving,
//     in order; aborted, or past its deadline, it resumes here with its
//     state untouched.
//   - In the process it enters, Import opens the envelope at the version
//     that process runs (the migration) and starts the actor under the same
//     name, which receives VersionChanged (the replacement) and then holds
//     every message until Release, or stops on Discard.
//
// The takeover package drives both halves across processes; the order that
// keeps one actor from running twice is: import, then commit the export,
// then release the import.

// ErrMoved is the reason given to in-process requests (Node.Update,
// Export) that reach an actor after it moved to another process.
var ErrMoved = errors.New("molt: the actor moved to another process")

// Exported is what an export answers: first, once the actor is staged, its
// sealed state (Result says OUTCOME_STAGED); then its final result,
// COMMITTED once it moved or ABORTED or REJECTED if it stays, with no
// envelope.
type Exported struct {
	PID      *pa.PID
	Envelope *envelope.Envelope // the sealed state, in the staged answer only
	Result   *update.UpdateResult
}

// exportCall asks a host to stage an export.
type exportCall struct {
	req    *update.UpdateActor
	answer func(Exported)
}

func (*exportCall) ControlLane()                {}
func (*exportCall) NotInfluenceReceiveTimeout() {}

// exportDecision commits (to != nil) or aborts a staged export.
type exportDecision struct {
	id     string
	to     *pa.PID
	reason string
}

func (*exportDecision) ControlLane()                {}
func (*exportDecision) NotInfluenceReceiveTimeout() {}

// releaseImport lets an imported actor run.
type releaseImport struct{}

func (releaseImport) ControlLane()                {}
func (releaseImport) NotInfluenceReceiveTimeout() {}

// Export stages the move of the actor at pid to another process: req gives
// the update id (required: Decide names it), the deadline and, as
// to_version, the version the actor will run there (0 if unknown; it is
// told to the behaviour's UpdateComing). answer is called, on the actor's
// goroutine, with the staged envelope and later with the final result, or
// once with a refusal; keep it short. An export queued behind updates in
// progress waits its turn as an update would.
//
// Export takes req over: the caller must not change it afterwards. It
// returns ErrNotUpdatable for a PID that is not a live molt actor of this
// node.
func (n *Node) Export(pid *pa.PID, req *update.UpdateActor, answer func(Exported)) error {
	if _, ok := n.directory.Lookup(pid); !ok {
		return fmt.Errorf("%w: %v is not a live molt actor of this node", ErrNotUpdatable, pid)
	}
	if req.GetUpdateId() == "" {
		return errors.New("molt: Export needs an update id, which Decide names")
	}
	n.system.Root.Send(pid, &exportCall{req: req, answer: answer})
	return nil
}

// Decide commits the staged export id of the actor at pid, which now lives
// at to in another process, or aborts it when to is nil. The export's
// answer function gets the final result. A decision for an export that is
// not staged (it aborted at its deadline, say) changes nothing: the final
// result says what happened.
func (n *Node) Decide(pid *pa.PID, id string, to *pa.PID, reason string) {
	n.system.Root.Send(pid, &exportDecision{id: id, to: to, reason: reason})
}

// Import starts an actor from a state envelope that another process sealed
// (Export): under the envelope's name and labels, at version, the state
// migrated from the envelope's version by the catalogue (Catalog.Open). The
// actor receives VersionChanged{From, To, Moved: true} first, then holds
// every message until Release; it is not in the directory, and cannot be
// updated, until then. ready is called on the actor's goroutine once
// VersionChanged was handled, with nil, or with the error that made the
// actor stop (it panicked on VersionChanged).
//
// Import returns the catalogue's error for an envelope it cannot open at
// version (and ErrNotRunnable if version has no behaviour here), an error
// for an envelope without a name, and protoactor's ErrNameExists for a
// name in use. A persistent import (Persistent in options) goes on from the
// envelope's sequence.
func (n *Node) Import(e *envelope.Envelope, version uint32, ready func(*pa.PID, error), options ...SpawnOption) (*pa.PID, error) {
	if e.GetName() == "" {
		return nil, errors.New("molt: Import needs an envelope with the actor's name: only named actors move")
	}
	opts := make([]SpawnOption, 0, len(options)+2)
	opts = append(opts, WithName(e.GetName()), WithLabels(e.GetLabels()))
	opts = append(opts, options...)
	opts = append(opts, func(c *spawnConfig) { c.imported = &importing{from: e, ready: ready} })
	return n.Spawn(e.GetKind(), version, opts...)
}

// Release lets an imported actor run: the messages it held are delivered
// in arrival order, and it enters the directory.
func (n *Node) Release(pid *pa.PID) { n.system.Root.Send(pid, releaseImport{}) }

// Discard stops an imported actor that must not run here (its export was
// aborted, and it runs on in the process it came from). Messages it held
// are dropped: nothing sent through the directory reaches an actor before
// Release.
func (n *Node) Discard(pid *pa.PID) { n.system.Root.Stop(pid) }

// importing is what an imported cell keeps until it is released.
type importing struct {
	from  *envelope.Envelope
	ready func(*pa.PID, error)
}

// startImported delivers VersionChanged to an imported actor as it starts.
func (h *host) startImported(ctx pa.Context) {
	imp := h.imported
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the imported actor panicked on VersionChanged: %v", r)
			}
		}()
		h.Deliver(ctx, h.behavior, &update.VersionChanged{From: imp.from.GetVersion(), To: h.version, Moved: true})
		return nil
	}()
	if imp.ready != nil {
		imp.ready(ctx.Self(), err)
	}
	if err != nil {
		h.imported = nil
		ctx.Stop(ctx.Self())
	}
}

// release ends an import's hold.
func (h *host) release(ctx pa.Context) {
	if h.imported == nil {
		return
	}
	h.imported = nil
	h.mailbox.Release()
	h.node.record.Add(ctx.Self(), h.kind, h.version, h.labels)
	h.started(ctx.Self())
}

// answerExport sends an export its answer.
func (h *host) answerExport(ctx pa.Context, call *exportCall, res *update.UpdateResult) {
	a := Exported{PID: ctx.Self(), Result: res}
	if res.GetOutcome() == update.Outcome_OUTCOME_STAGED && h.upd != nil {
		if e := h.upd.Sealed(); e != nil {
			e.Name, e.Labels, e.Sequence = ctx.Self().GetId(), maps.Clone(h.labels), h.seq
			a.Envelope = e
		}
	}
	call.answer(a)
}

// decideExport applies a decision to the staged export it names.
func (h *host) decideExport(ctx pa.Context, d *exportDecision) {
	if h.upd == nil || !h.upd.Export() || h.upd.Result().GetUpdateId() != d.id {
		return
	}
	if d.to == nil {
		reason := d.reason
		if reason == "" {
			reason = "the takeover aborted the move"
		}
		h.upd.Abort(ctx, errors.New(reason))
	} else {
		h.upd.CommitTo(ctx, d.to)
	}
	h.settle(ctx)
}

// Move is the replacement of an export that commits: from now on the
// actor is a forwarder. It leaves the directory, since it no longer runs
// here. Updates queued behind the export follow it: one requested from an
// actor goes on to the new PID with its requester, whom the result reaches;
// one requested in process is refused, saying where the actor went.
func (h *host) Move(ctx pa.Context, to *pa.PID) {
	h.moved = to
	h.node.record.Remove(ctx.Self())
	h.ended(ctx.Self())
	ctx.SetReceiveTimeout(0)
	for _, r := range h.queue() {
		switch {
		case r.sender != nil:
			ctx.RequestWithCustomSender(to, r.req, r.sender)
		case r.call != nil:
			r.call.done <- h.refusal(ctx, r.req, fmt.Sprintf("%v: it runs at %v now; send the update there", ErrMoved, to))
		case r.export != nil:
			r.export.answer(Exported{PID: ctx.Self(), Result: h.refusal(ctx, r.req, fmt.Sprintf("%v: it runs at %v now", ErrMoved, to))})
		}
	}
	if h.rare != nil {
		h.rare.queued = nil
	}
}

// forwarder is the behaviour of a moved actor's later incarnations: the
// host forwards everything before a behaviour would see it.
type forwarder struct{}

func (forwarder) Receive(pa.Context) {}

// forward sends the current message on to where the actor moved, in the
// order it arrived here. Lifecycle and molt's own messages stay here: the
// retired behaviour sees none of them.
func (h *host) forward(ctx pa.Context) bool {
	switch m := ctx.Message().(type) {
	case *pa.Stopped:
		h.stopped.Store(true)
		return true
	case *pa.Started, *pa.Stopping, *pa.Restarting, *pa.ReceiveTimeout:
		return true
	case *deadline, *probationEnd, nextUpdate, releaseImport, *exportDecision, pa.SystemMessage:
		return true
	case *call:
		m.done <- h.refusal(ctx, m.req, fmt.Sprintf("%v: it runs at %v now; send the update there", ErrMoved, h.moved))
		return true
	case *exportCall:
		m.answer(Exported{PID: ctx.Self(), Result: h.refusal(ctx, m.req, fmt.Sprintf("%v: it runs at %v now", ErrMoved, h.moved))})
		return true
	}
	if _, ok := ctx.Message().(proto.Message); !ok && h.moved.GetAddress() != ctx.Self().GetAddress() {
		ctx.Logger().Warn("molt: a message to an actor that moved to another process was dropped: only protobuf messages cross processes",
			slog.String("actor", ctx.Self().GetId()), slog.String("to", h.moved.String()), slog.String("type", fmt.Sprintf("%T", ctx.Message())))
		return true
	}
	ctx.Forward(h.moved)
	return true
}

// Compile-time check that the host is what the protocol drives.
var _ protocol.Host = (*host)(nil)
