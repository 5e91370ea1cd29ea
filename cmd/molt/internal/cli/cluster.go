package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
)

// What the CLI shows of an admin that knows its cluster: lists, packages
// and cancels that span every member (admin.Config.Cluster).

// mergeMembers keeps, across the pages of a cluster-wide list, every
// member's status, a member that failed on any page as failed.
func mergeMembers(have, page []*admin.MemberStatus) []*admin.MemberStatus {
	if have == nil {
		return page
	}
	for _, p := range page {
		found := false
		for i, h := range have {
			if h.GetAddress() != p.GetAddress() {
				continue
			}
			found = true
			if h.GetAnswered() && !p.GetAnswered() {
				have[i] = p
			}
		}
		if !found {
			have = append(have, p)
		}
	}
	return have
}

type memberStatusView struct {
	Address  string `json:"address"`
	Answered bool   `json:"answered"`
	Actors   uint32 `json:"actors"`
	Error    string `json:"error,omitempty"`
}

type clusterActorView struct {
	Member string `json:"member"`
	actorView
}

// printClusterActors prints a cluster-wide list, then fails with
// ExitUnreachable if a member did not answer: the list is then partial.
func (o *options) printClusterActors(list *admin.ActorList) error {
	if o.json() {
		out := struct {
			Actors  []clusterActorView `json:"actors"`
			Total   uint32             `json:"total"`
			Members []memberStatusView `json:"members"`
		}{Actors: []clusterActorView{}, Total: list.GetTotal(), Members: []memberStatusView{}}
		for _, a := range list.GetActors() {
			out.Actors = append(out.Actors, clusterActorView{Member: a.GetPid().GetAddress(), actorView: viewActor(a)})
		}
		for _, m := range list.GetMembers() {
			out.Members = append(out.Members, memberStatusView{Address: m.GetAddress(), Answered: m.GetAnswered(), Actors: m.GetTotal(), Error: m.GetError()})
		}
		if err := writeJSON(o.stdout, out); err != nil {
			return err
		}
		return missingMembers(list.GetMembers())
	}
	if len(list.GetActors()) == 0 {
		fmt.Fprintln(o.stdout, "no live actors match")
	} else {
		w := table(o.stdout)
		fmt.Fprintln(w, "MEMBER\tNAME\tKIND\tVERSION\tLABELS\tQUEUED\tHELD\tLAST RESULT")
		for _, a := range list.GetActors() {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", a.GetPid().GetAddress(), a.GetName(),
				a.GetKind(), a.GetVersion(), labelsText(a.GetLabels()), a.GetQueued(), a.GetHeld(), resultText(a.GetLastUpdate()))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(o.stdout)
	w := table(o.stdout)
	fmt.Fprintln(w, "MEMBER\tACTORS\tSTATUS")
	for _, m := range list.GetMembers() {
		if m.GetAnswered() {
			fmt.Fprintf(w, "%s\t%d\tok\n", m.GetAddress(), m.GetTotal())
		} else {
			fmt.Fprintf(w, "%s\t-\t%s\n", m.GetAddress(), m.GetError())
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return missingMembers(list.GetMembers())
}

func missingMembers(ms []*admin.MemberStatus) error {
	var missing []string
	for _, m := range ms {
		if !m.GetAnswered() {
			missing = append(missing, m.GetAddress()+" ("+m.GetError()+")")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fail(ExitUnreachable, "%d of %d members did not answer, and their actors are not listed: %s", len(missing), len(ms), strings.Join(missing, "; "))
}

type memberPackageView struct {
	Address  string   `json:"address"`
	Accepted bool     `json:"accepted"`
	Actors   uint32   `json:"actors"`
	Plan     string   `json:"plan,omitempty"`
	Refused  string   `json:"refused,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func viewMemberPackages(ms []*admin.MemberPackage, plans bool) []memberPackageView {
	out := []memberPackageView{}
	for _, m := range ms {
		v := memberPackageView{Address: m.GetAddress(), Accepted: m.GetAccepted() != nil, Actors: m.GetAccepted().GetActors(),
			Refused: m.GetRefused(), Problems: m.GetProblems(), Error: m.GetError()}
		if plans {
			v.Plan = m.GetAccepted().GetPlan()
		}
		out = append(out, v)
	}
	return out
}

// memberAnswer is a member's answer on one line.
func memberAnswer(m *admin.MemberPackage) string {
	switch {
	case m.GetAccepted() != nil:
		return fmt.Sprintf("accepted: %d actors", m.GetAccepted().GetActors())
	case m.GetError() != "":
		return "no answer: " + m.GetError()
	}
	return "refused: " + admin.RefusalText(m.GetRefused(), m.GetProblems())
}

func (o *options) printMemberAnswers(ms []*admin.MemberPackage) error {
	w := table(o.stdout)
	fmt.Fprintln(w, "MEMBER\tANSWER")
	for _, m := range ms {
		fmt.Fprintf(w, "%s\t%s\n", m.GetAddress(), memberAnswer(m))
	}
	return w.Flush()
}

// clusterRefusal is the error of a cluster-wide request not every member
// accepted: unreachable when the first problem is a member that did not
// answer, a failure otherwise.
func clusterRefusal(req string, cp *admin.ClusterPackage) error {
	code := ExitFailed
	for _, m := range cp.GetMembers() {
		if m.GetAccepted() != nil {
			continue
		}
		if m.GetError() != "" {
			code = ExitUnreachable
		}
		break
	}
	return fail(code, "%s refused: %s", req, cp.GetReason())
}

// clusterPackage shows a cluster-wide RunPackage: the plans of a dry run,
// or the run followed to its ClusterPackageDone.
func (o *options) clusterPackage(ctx context.Context, c *client, cp *admin.ClusterPackage) error {
	var actors uint32
	for _, m := range cp.GetMembers() {
		actors += m.GetAccepted().GetActors()
	}
	if !cp.GetAccepted() {
		if o.json() {
			if err := writeJSON(o.stdout, map[string]any{"package_id": cp.GetPackageId(), "accepted": false,
				"reason": cp.GetReason(), "members": viewMemberPackages(cp.GetMembers(), false)}); err != nil {
				return err
			}
		} else if err := o.printMemberAnswers(cp.GetMembers()); err != nil {
			return err
		}
		return clusterRefusal("RunPackage", cp)
	}
	if cp.GetDryRun() {
		if o.json() {
			return writeJSON(o.stdout, map[string]any{"package_id": cp.GetPackageId(), "dry_run": true, "actors": actors,
				"members": viewMemberPackages(cp.GetMembers(), true)})
		}
		fmt.Fprintf(o.stdout, "package %s, dry run on %d members: %d actors\n", cp.GetPackageId(), len(cp.GetMembers()), actors)
		for _, m := range cp.GetMembers() {
			plan := m.GetAccepted().GetPlan()
			fmt.Fprintf(o.stdout, "\nmember %s: %d actors\n\n%s", m.GetAddress(), m.GetAccepted().GetActors(), plan)
			if !strings.HasSuffix(plan, "\n") {
				fmt.Fprintln(o.stdout)
			}
		}
		return nil
	}
	if !o.json() {
		fmt.Fprintf(o.stdout, "package %s accepted on %d members: %d actors\n", cp.GetPackageId(), len(cp.GetMembers()), actors)
	}
	run, err := o.followCluster(ctx, c, cp.GetPackageId(), actors)
	if err != nil {
		return err
	}
	if err := o.printClusterRun(run); err != nil {
		return err
	}
	return run.err()
}

// clusterRun is what a cluster-wide package's messages said.
type clusterRun struct {
	id      string
	actors  uint32
	members map[string]*packageRun // each member's events, as apply records them
	done    *admin.ClusterPackageDone
}

func (o *options) followCluster(ctx context.Context, c *client, id string, actors uint32) (*clusterRun, error) {
	run := &clusterRun{id: id, actors: actors, members: map[string]*packageRun{}}
	p := o.newProgress(int(actors))
	defer p.close()
	for {
		select {
		case m := <-c.cluster:
			switch e := m.(type) {
			case *admin.MemberEvent:
				if e.GetEvent().GetPackageId() != id {
					continue
				}
				r := run.members[e.GetMember()]
				if r == nil {
					r = &packageRun{id: id, last: map[string]*manager.Event{}}
					run.members[e.GetMember()] = r
				}
				r.record(e.GetEvent())
				p.memberEvent(e.GetMember(), e.GetEvent())
			case *admin.ClusterPackageDone:
				if e.GetPackageId() == id {
					run.done = e
					return run, nil
				}
			}
		case <-c.events:
			// The node's own manager: its part comes as a MemberEvent too.
		case err := <-c.broken:
			return nil, fail(ExitUnreachable, "lost %s while package %s ran (%v): molt ls shows how it goes on each member", o.node, id, c.connectionError(err))
		case <-ctx.Done():
			return nil, fail(ExitInterrupted, "interrupted: package %s still runs on the members; molt cancel %s stops it", id, id)
		}
	}
}

// memberEvent shows a member's event: the bar counts every member's
// actors; a line says which member.
func (p *progress) memberEvent(member string, e *manager.Event) {
	if p.bar != nil || p.o.json() {
		p.event(e)
		return
	}
	if e.GetType() == manager.EventType_ACTOR_UPDATED {
		if e.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			p.done++
		} else {
			p.failed++
		}
	}
	fmt.Fprintf(p.o.stdout, "  [%s] %s\n", member, eventText(e))
}

func (r *clusterRun) err() error {
	d := r.done
	if d.GetOutcome() == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		return nil
	}
	u, f, rb := r.counts()
	msg := fmt.Sprintf("package %s %s across the cluster: %d updated, %d failed, %d rolled back", r.id,
		packageOutcomeText(d.GetOutcome()), u, f, rb)
	if d.GetReason() != "" {
		msg += ": " + d.GetReason()
	}
	return fail(ExitFailed, "%s", msg)
}

func (r *clusterRun) counts() (updated, failed, rolledBack uint32) {
	for _, m := range r.done.GetMembers() {
		updated += m.GetDone().GetUpdated()
		failed += m.GetDone().GetFailed()
		rolledBack += m.GetDone().GetRolledBack()
	}
	return
}

type memberDoneView struct {
	Address    string `json:"address"`
	Outcome    string `json:"outcome"`
	Updated    uint32 `json:"updated"`
	Failed     uint32 `json:"failed"`
	RolledBack uint32 `json:"rolled_back"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
	LatencyNs  int64  `json:"latency_ns"`
}

type targetView struct {
	Kind    string `json:"kind"`
	Version uint32 `json:"version"`
	Error   string `json:"error,omitempty"`
}

type memberUnitView struct {
	Member string `json:"member"`
	unitView
}

func (r *clusterRun) views() ([]memberDoneView, []targetView, []memberUnitView) {
	members, targets, units := []memberDoneView{}, []targetView{}, []memberUnitView{}
	for _, m := range r.done.GetMembers() {
		d := m.GetDone()
		v := memberDoneView{Address: m.GetAddress(), Outcome: "lost", Error: m.GetError(),
			Updated: d.GetUpdated(), Failed: d.GetFailed(), RolledBack: d.GetRolledBack(), Reason: d.GetReason(), LatencyNs: d.GetLatencyNs()}
		if d != nil {
			v.Outcome = packageOutcomeWord(d.GetPackageOutcome())
		}
		members = append(members, v)
		if pr := r.members[m.GetAddress()]; pr != nil {
			for _, u := range pr.units() {
				units = append(units, memberUnitView{Member: m.GetAddress(), unitView: u})
			}
		}
	}
	for _, t := range r.done.GetTargets() {
		targets = append(targets, targetView{Kind: t.GetKind(), Version: t.GetVersion(), Error: t.GetError()})
	}
	return members, targets, units
}

func (o *options) printClusterRun(r *clusterRun) error {
	d := r.done
	members, targets, units := r.views()
	updated, failed, rolledBack := r.counts()
	if o.json() {
		return writeJSON(o.stdout, struct {
			PackageID  string           `json:"package_id"`
			Actors     uint32           `json:"actors"`
			Outcome    string           `json:"outcome"`
			Updated    uint32           `json:"updated"`
			Failed     uint32           `json:"failed"`
			RolledBack uint32           `json:"rolled_back"`
			Reason     string           `json:"reason,omitempty"`
			LatencyNs  int64            `json:"latency_ns"`
			Members    []memberDoneView `json:"members"`
			Targets    []targetView     `json:"targets"`
			Units      []memberUnitView `json:"units"`
		}{
			PackageID: r.id, Actors: r.actors, Outcome: packageOutcomeWord(d.GetOutcome()),
			Updated: updated, Failed: failed, RolledBack: rolledBack, Reason: d.GetReason(), LatencyNs: d.GetLatencyNs(),
			Members: members, Targets: targets, Units: units,
		})
	}
	fmt.Fprintln(o.stdout)
	w := table(o.stdout)
	fmt.Fprintf(w, "package\t%s\n", r.id)
	fmt.Fprintf(w, "outcome\t%s\n", packageOutcomeText(d.GetOutcome()))
	fmt.Fprintf(w, "members\t%d\n", len(members))
	fmt.Fprintf(w, "updated\t%d\n", updated)
	fmt.Fprintf(w, "failed\t%d\n", failed)
	fmt.Fprintf(w, "rolled back\t%d\n", rolledBack)
	if d.GetReason() != "" {
		fmt.Fprintf(w, "reason\t%s\n", d.GetReason())
	}
	fmt.Fprintf(w, "took\t%s\n", dur(d.GetLatencyNs()))
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.stdout)
	w = table(o.stdout)
	fmt.Fprintln(w, "MEMBER\tOUTCOME\tUPDATED\tFAILED\tROLLED BACK\tTOOK\tREASON")
	for _, m := range members {
		took, reason := dur(m.LatencyNs), firstNonEmpty(m.Error, m.Reason)
		if m.Error != "" {
			took = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", m.Address, strings.ReplaceAll(m.Outcome, "_", " "),
			m.Updated, m.Failed, m.RolledBack, took, orDash(reason))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(targets) > 0 {
		fmt.Fprintln(o.stdout)
		w = table(o.stdout)
		fmt.Fprintln(w, "CLUSTER TARGET\tVERSION\tSTATUS")
		for _, t := range targets {
			status := "set: new activations start at it"
			if t.Error != "" {
				status = "not set: " + t.Error
			}
			fmt.Fprintf(w, "%s\t%d\t%s\n", t.Kind, t.Version, status)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(units) == 0 {
		return nil
	}
	fmt.Fprintln(o.stdout)
	w = table(o.stdout)
	fmt.Fprintln(w, "MEMBER\tACTOR\tKIND\tFROM\tTO\tOUTCOME\tLATENCY\tREASON")
	for _, u := range units {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", u.Member, u.Actor, u.Kind, u.From, u.To,
			strings.ReplaceAll(u.Outcome, "_", " "), dur(u.LatencyNs), orDash(u.why()))
	}
	return w.Flush()
}

// printClusterCancel shows a cluster-wide CancelPackage: which members
// cancelled it.
func (o *options) printClusterCancel(cp *admin.ClusterPackage) error {
	if o.json() {
		if err := writeJSON(o.stdout, map[string]any{"package_id": cp.GetPackageId(), "cancelled": cp.GetAccepted(),
			"members": viewMemberPackages(cp.GetMembers(), false)}); err != nil {
			return err
		}
	} else {
		if cp.GetAccepted() {
			fmt.Fprintf(o.stdout, "package %s cancelled where it runs: no new batch starts; updates in flight finish or abort\n\n", cp.GetPackageId())
		}
		w := table(o.stdout)
		fmt.Fprintln(w, "MEMBER\tANSWER")
		for _, m := range cp.GetMembers() {
			answer := memberAnswer(m)
			if m.GetAccepted() != nil {
				answer = "cancelled"
			}
			fmt.Fprintf(w, "%s\t%s\n", m.GetAddress(), answer)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if !cp.GetAccepted() {
		return clusterRefusal("CancelPackage", cp)
	}
	return nil
}
