package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
)

// The JSON outputs are the CLI's own views, with stable snake_case names
// and enums as short lower-case words, rather than protojson, whose
// spacing varies on purpose and whose int64 fields are strings.

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONLine writes v on one line: a stream of events, one per line.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// enumWord turns OUTCOME_COMMITTED into "committed".
func enumWord(s, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(s, prefix))
}

func outcomeWord(o update.Outcome) string  { return enumWord(o.String(), "OUTCOME_") }
func phaseWord(p update.Phase) string      { return enumWord(p.String(), "PHASE_") }
func eventWord(t manager.EventType) string { return strings.ToLower(t.String()) }
func packageOutcomeWord(o manager.PackageOutcome) string {
	return enumWord(o.String(), "PACKAGE_OUTCOME_")
}
func probationWord(o update.ProbationOutcome) string {
	return enumWord(o.String(), "PROBATION_OUTCOME_")
}

// packageOutcomeText is a package's outcome for people: "rolled back".
func packageOutcomeText(o manager.PackageOutcome) string {
	return strings.ReplaceAll(packageOutcomeWord(o), "_", " ")
}

// phaseText is a phase for people: "state transfer".
func phaseText(p update.Phase) string { return strings.ReplaceAll(phaseWord(p), "_", " ") }

// dur prints a duration in nanoseconds to a useful precision.
func dur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}

func labelsText(l map[string]string) string {
	if len(l) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// resultText is one update's result on one line: "committed 1→2 in
// 1.2ms", "rejected 1→9 in initialization: no version 9".
func resultText(r *update.UpdateResult) string {
	if r == nil {
		return "-"
	}
	s := fmt.Sprintf("%s %d→%d", outcomeWord(r.GetOutcome()), r.GetFromVersion(), r.GetToVersion())
	switch r.GetOutcome() {
	case update.Outcome_OUTCOME_COMMITTED, update.Outcome_OUTCOME_STAGED:
		return s + " in " + dur(r.GetTotalNs())
	}
	if r.GetPhase() != update.Phase_PHASE_UNSPECIFIED {
		s += " in " + phaseText(r.GetPhase())
	}
	if r.GetReason() != "" {
		s += ": " + r.GetReason()
	}
	return s
}

// resultView is an UpdateResult in the JSON outputs.
type resultView struct {
	UpdateID   string     `json:"update_id,omitempty"`
	Actor      string     `json:"actor"`
	Kind       string     `json:"kind"`
	Outcome    string     `json:"outcome"`
	From       uint32     `json:"from_version"`
	To         uint32     `json:"to_version"`
	Phase      string     `json:"phase"`
	Reason     string     `json:"reason,omitempty"`
	Held       uint32     `json:"held_messages"`
	Queued     uint32     `json:"queued_messages"`
	TotalNs    int64      `json:"total_ns"`
	DecisionNs int64      `json:"decision_ns"`
	PhasesNs   phasesView `json:"phases_ns"`
}

type phasesView struct {
	Initialization int64 `json:"initialization"`
	Notification   int64 `json:"notification"`
	Preparation    int64 `json:"preparation"`
	StateChecking  int64 `json:"state_checking"`
	StateTransfer  int64 `json:"state_transfer"`
	Replacement    int64 `json:"replacement"`
}

func viewResult(r *update.UpdateResult) *resultView {
	if r == nil {
		return nil
	}
	return &resultView{
		UpdateID: r.GetUpdateId(), Actor: r.GetActor(), Kind: r.GetKind(),
		Outcome: outcomeWord(r.GetOutcome()), From: r.GetFromVersion(), To: r.GetToVersion(),
		Phase: phaseWord(r.GetPhase()), Reason: r.GetReason(),
		Held: r.GetHeldMessages(), Queued: r.GetQueuedMessages(),
		TotalNs: r.GetTotalNs(), DecisionNs: r.GetDecisionNs(),
		PhasesNs: phasesView{
			Initialization: r.GetInitializationNs(), Notification: r.GetNotificationNs(),
			Preparation: r.GetPreparationNs(), StateChecking: r.GetStateCheckingNs(),
			StateTransfer: r.GetStateTransferNs(), Replacement: r.GetReplacementNs(),
		},
	}
}

// eventView is a manager Event in the JSON outputs.
type eventView struct {
	Time           string   `json:"time,omitempty"`
	Package        string   `json:"package"`
	Type           string   `json:"type"`
	Step           uint32   `json:"step,omitempty"`
	Batch          uint32   `json:"batch,omitempty"`
	Actor          string   `json:"actor,omitempty"`
	Group          string   `json:"group,omitempty"`
	Kind           string   `json:"kind,omitempty"`
	From           uint32   `json:"from_version,omitempty"`
	To             uint32   `json:"to_version,omitempty"`
	Phase          string   `json:"phase,omitempty"`
	Outcome        string   `json:"outcome,omitempty"`
	Reason         string   `json:"reason,omitempty"`
	LatencyNs      int64    `json:"latency_ns,omitempty"`
	Probation      string   `json:"probation,omitempty"`
	PackageOutcome string   `json:"package_outcome,omitempty"`
	Updated        uint32   `json:"updated,omitempty"`
	Failed         uint32   `json:"failed,omitempty"`
	RolledBack     uint32   `json:"rolled_back,omitempty"`
	Unanswered     uint32   `json:"unanswered,omitempty"`
	FailedUnits    []string `json:"failed_units,omitempty"`
}

func viewEvent(e *manager.Event, at time.Time) eventView {
	v := eventView{
		Package: e.GetPackageId(), Type: eventWord(e.GetType()),
		Step: e.GetStep(), Batch: e.GetBatch(), Actor: e.GetActor(), Group: e.GetGroup(), Kind: e.GetKind(),
		From: e.GetFromVersion(), To: e.GetToVersion(), Reason: e.GetReason(), LatencyNs: e.GetLatencyNs(),
		Updated: e.GetUpdated(), Failed: e.GetFailed(), RolledBack: e.GetRolledBack(),
		Unanswered: e.GetUnanswered(), FailedUnits: e.GetFailedUnits(),
	}
	if !at.IsZero() {
		v.Time = at.Format(time.RFC3339Nano)
	}
	if e.GetPhase() != update.Phase_PHASE_UNSPECIFIED {
		v.Phase = phaseWord(e.GetPhase())
	}
	if e.GetOutcome() != update.Outcome_OUTCOME_UNSPECIFIED {
		v.Outcome = outcomeWord(e.GetOutcome())
	}
	if e.GetProbation() != update.ProbationOutcome_PROBATION_OUTCOME_UNSPECIFIED {
		v.Probation = probationWord(e.GetProbation())
	}
	if e.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_UNSPECIFIED {
		v.PackageOutcome = packageOutcomeWord(e.GetPackageOutcome())
	}
	return v
}

// eventText says what an event means, on one line.
func eventText(e *manager.Event) string {
	who := e.GetActor()
	if e.GetKind() != "" && who != "" {
		who += " (" + e.GetKind() + ")"
	}
	versions := fmt.Sprintf("%d→%d", e.GetFromVersion(), e.GetToVersion())
	why := func(s string) string {
		if e.GetReason() != "" {
			s += ": " + e.GetReason()
		}
		return s
	}
	switch e.GetType() {
	case manager.EventType_PACKAGE_STARTED:
		return "package " + e.GetPackageId() + " started"
	case manager.EventType_STEP_STARTED:
		return fmt.Sprintf("step %d started", e.GetStep())
	case manager.EventType_BATCH_STARTED:
		return fmt.Sprintf("step %d, batch %d started", e.GetStep(), e.GetBatch())
	case manager.EventType_ACTOR_UPDATED:
		if e.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			return fmt.Sprintf("%s %s committed in %s", who, versions, dur(e.GetLatencyNs()))
		}
		s := fmt.Sprintf("%s %s %s", who, versions, outcomeWord(e.GetOutcome()))
		if e.GetPhase() != update.Phase_PHASE_UNSPECIFIED {
			s += " in " + phaseText(e.GetPhase())
		}
		return why(s)
	case manager.EventType_GROUP_STAGED:
		return "group " + e.GetGroup() + " staged"
	case manager.EventType_GROUP_COMMITTED:
		return fmt.Sprintf("group %s committed in %s", e.GetGroup(), dur(e.GetLatencyNs()))
	case manager.EventType_GROUP_ABORTED:
		return why("group " + e.GetGroup() + " aborted")
	case manager.EventType_PROBATION_ENDED:
		return why(fmt.Sprintf("%s probation %s", who, probationWord(e.GetProbation())))
	case manager.EventType_HALTED:
		s := "halted"
		if o := e.GetPackageOutcome(); o != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED && o != manager.PackageOutcome_PACKAGE_OUTCOME_UNSPECIFIED {
			s += " (" + packageOutcomeText(o) + ")"
		}
		return why(s)
	case manager.EventType_ROLLBACK_STARTED:
		return why("rollback started")
	case manager.EventType_ACTOR_ROLLED_BACK:
		return why(fmt.Sprintf("%s %s rolled back", who, versions))
	case manager.EventType_PACKAGE_DONE, manager.EventType_PACKAGE_REVISED:
		verb := "done"
		if e.GetType() == manager.EventType_PACKAGE_REVISED {
			verb = "revised"
		}
		s := fmt.Sprintf("package %s %s: %s, %d updated, %d failed, %d rolled back, in %s",
			e.GetPackageId(), verb, packageOutcomeWord(e.GetPackageOutcome()), e.GetUpdated(), e.GetFailed(), e.GetRolledBack(), dur(e.GetLatencyNs()))
		if len(e.GetFailedUnits()) > 0 {
			s += "; failed: " + strings.Join(e.GetFailedUnits(), ", ")
		}
		return why(s)
	}
	return why(eventWord(e.GetType()))
}
