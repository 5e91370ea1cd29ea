package actor

import (
	"context"
	"strings"
	"time"

	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MeterName is the instrumentation scope of the node's instruments.
const MeterName = "github.com/molt-go/molt/actor"

// The node's instruments; see docs/operating.md, "Metrics".
const (
	// MetricUpdates counts the updates that ended on an actor.
	MetricUpdates = "molt.updates"
	// MetricPhaseDuration is the time an update spent in each phase it
	// reached.
	MetricPhaseDuration = "molt.update.phase.duration"
	// MetricUpdateDuration is the time an update took from arrival to
	// result.
	MetricUpdateDuration = "molt.update.duration"
	// MetricHeldMessages is the user messages an update held back.
	MetricHeldMessages = "molt.update.held_messages"
	// MetricMailboxDepth is the user messages waiting in the mailboxes of
	// the live actors of a kind, queued or held, when the reader collects.
	MetricMailboxDepth = "molt.actor.mailbox.depth"
	// MetricActors is the live actors of a kind at a version.
	MetricActors = "molt.actors"
)

// Attribute keys of the node's instruments.
const (
	AttrKind        = attribute.Key("molt.kind")
	AttrFromVersion = attribute.Key("molt.from_version")
	AttrToVersion   = attribute.Key("molt.to_version")
	AttrVersion     = attribute.Key("molt.version")
	AttrOutcome     = attribute.Key("molt.outcome")
	AttrPhase       = attribute.Key("molt.phase")
	AttrQueue       = attribute.Key("molt.queue")
)

// WithMeterProvider records the node's update metrics with mp (an
// OpenTelemetry MeterProvider, such as the SDK's). Without it the node
// records nothing: no instrument exists, and an update pays only a nil
// check. Metrics are recorded as each update ends, and gauges read when the
// reader collects: a message that is not part of an update costs nothing.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *nodeConfig) { c.meters = mp }
}

// latencyBounds are the histograms' bucket bounds, in seconds: an update
// takes microseconds when its actor is idle, up to its deadline (at most
// ten minutes) when it waits for a stable state.
var latencyBounds = []float64{
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600,
}

var countBounds = []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000}

type nodeMetrics struct {
	updates metric.Int64Counter
	phase   metric.Float64Histogram
	total   metric.Float64Histogram
	held    metric.Int64Histogram
	reg     metric.Registration
}

// newMetrics makes the node's instruments on mp. Their errors are
// ignored: an instrument the provider fails to make is a working no-op (the
// API's contract), so only its figures are lost, and NewNode keeps a
// signature without an error for the sake of a figure.
func newMetrics(n *Node, mp metric.MeterProvider) *nodeMetrics {
	m := mp.Meter(MeterName)
	var nm nodeMetrics
	nm.updates, _ = m.Int64Counter(MetricUpdates, metric.WithUnit("{update}"),
		metric.WithDescription("Updates that ended on an actor, by kind, versions, outcome and, unless committed, the phase that failed."))
	nm.phase, _ = m.Float64Histogram(MetricPhaseDuration, metric.WithUnit("s"),
		metric.WithDescription("Time an update spent in each phase it reached."),
		metric.WithExplicitBucketBoundaries(latencyBounds...))
	nm.total, _ = m.Float64Histogram(MetricUpdateDuration, metric.WithUnit("s"),
		metric.WithDescription("Time an update took, from its arrival at the actor to its result."),
		metric.WithExplicitBucketBoundaries(latencyBounds...))
	nm.held, _ = m.Int64Histogram(MetricHeldMessages, metric.WithUnit("{message}"),
		metric.WithDescription("User messages an update held back and delivered after it."),
		metric.WithExplicitBucketBoundaries(countBounds...))
	depth, _ := m.Int64ObservableGauge(MetricMailboxDepth, metric.WithUnit("{message}"),
		metric.WithDescription("User messages waiting in the mailboxes of a kind's live actors: queued, or held by an update."))
	actors, _ := m.Int64ObservableGauge(MetricActors, metric.WithUnit("{actor}"),
		metric.WithDescription("Live actors of a kind at a version."))
	nm.reg, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		n.observe(o, depth, actors)
		return nil
	}, depth, actors)
	return &nm
}

func (m *nodeMetrics) stop() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}

// phases are the six phases in order, with their attribute values.
var phases = [...]struct {
	phase update.Phase
	name  string
	ns    func(*update.UpdateResult) int64
}{
	{update.Phase_PHASE_INITIALIZATION, "initialization", (*update.UpdateResult).GetInitializationNs},
	{update.Phase_PHASE_NOTIFICATION, "notification", (*update.UpdateResult).GetNotificationNs},
	{update.Phase_PHASE_PREPARATION, "preparation", (*update.UpdateResult).GetPreparationNs},
	{update.Phase_PHASE_STATE_CHECKING, "state_checking", (*update.UpdateResult).GetStateCheckingNs},
	{update.Phase_PHASE_STATE_TRANSFER, "state_transfer", (*update.UpdateResult).GetStateTransferNs},
	{update.Phase_PHASE_REPLACEMENT, "replacement", (*update.UpdateResult).GetReplacementNs},
}

// PhaseName is the value of the molt.phase attribute for p: its enum
// name without the prefix, in lower case ("state_transfer").
func PhaseName(p update.Phase) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "PHASE_"))
}

// OutcomeName is the value of the molt.outcome attribute for o
// ("committed", "aborted", "rejected").
func OutcomeName(o update.Outcome) string {
	return strings.ToLower(strings.TrimPrefix(o.String(), "OUTCOME_"))
}

// record records the final result of one update.
func (m *nodeMetrics) record(res *update.UpdateResult) {
	ctx := context.Background()
	kind := AttrKind.String(res.GetKind())
	outcome := AttrOutcome.String(OutcomeName(res.GetOutcome()))
	counted := []attribute.KeyValue{kind,
		AttrFromVersion.Int64(int64(res.GetFromVersion())),
		AttrToVersion.Int64(int64(res.GetToVersion())),
		outcome}
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		// The phase a failure happened in is what an operator looks
		// for; a commit always ends in replacement, which says nothing.
		counted = append(counted, AttrPhase.String(PhaseName(res.GetPhase())))
	}
	m.updates.Add(ctx, 1, metric.WithAttributes(counted...))
	// The phases the update reached: those after the one it ended in did
	// not run, and a zero there is no measurement.
	for _, p := range phases {
		if p.phase > res.GetPhase() {
			break
		}
		m.phase.Record(ctx, seconds(p.ns(res)), metric.WithAttributes(kind, outcome, AttrPhase.String(p.name)))
	}
	m.total.Record(ctx, seconds(res.GetTotalNs()), metric.WithAttributes(kind, outcome))
	m.held.Record(ctx, int64(res.GetHeldMessages()), metric.WithAttributes(kind, outcome))
}

func seconds(ns int64) float64 { return time.Duration(ns).Seconds() }

// observe reports the gauges: a walk over the live actors, done only when
// a reader collects.
func (n *Node) observe(o metric.Observer, depth, actors metric.Int64Observable) {
	type kv struct {
		kind    string
		version uint32
	}
	live := make(map[kv]int64)
	n.directory.Range("", func(e registry.Entry) bool {
		live[kv{e.Kind, e.Version}]++
		return true
	})
	for k, count := range live {
		o.ObserveInt64(actors, count, metric.WithAttributes(AttrKind.String(k.kind), AttrVersion.Int64(int64(k.version))))
	}
	type sums struct{ queued, held int64 }
	byKind := make(map[string]*sums)
	for k := range live {
		if byKind[k.kind] == nil {
			byKind[k.kind] = &sums{}
		}
	}
	n.rangeCells(func(c *cell) bool {
		if c.mailbox == nil {
			return true
		}
		s := byKind[c.kind]
		if s == nil {
			s = &sums{}
			byKind[c.kind] = s
		}
		counts := c.mailbox.Counts()
		s.queued += int64(counts.Queued)
		s.held += int64(counts.Held)
		return true
	})
	for kind, s := range byKind {
		o.ObserveInt64(depth, s.queued, metric.WithAttributes(AttrKind.String(kind), AttrQueue.String("queued")))
		o.ObserveInt64(depth, s.held, metric.WithAttributes(AttrKind.String(kind), AttrQueue.String("held")))
	}
}
