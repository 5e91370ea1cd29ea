package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/molt-go/molt/admin"
	"github.com/spf13/cobra"
)

// withClient runs fn with a connection to the node, and closes it
// whatever fn returns.
func (o *options) withClient(fn func(ctx context.Context, c *client) error) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	defer c.close()
	return fn(o.interrupt, c)
}

// maxPages bounds the pages ls reads: the admin's largest page is 200
// actors, so far beyond any fleet one admin lists; it stops a node whose
// next_offset never ends from keeping the CLI forever.
const maxPages = 10000

// listActors reads every page of ListActors.
func (c *client) listActors(ctx context.Context, req *admin.ListActors) (*admin.ActorList, error) {
	all := &admin.ActorList{}
	for range maxPages {
		ans, err := c.ask(ctx, req)
		if err != nil {
			return nil, err
		}
		page, ok := ans.(*admin.ActorList)
		if !ok {
			return nil, answerError("ListActors", ans)
		}
		all.Actors = append(all.Actors, page.GetActors()...)
		all.Total = page.GetTotal()
		all.Members = mergeMembers(all.Members, page.GetMembers())
		if page.GetNextOffset() == 0 || page.GetNextOffset() <= req.GetOffset() {
			return all, nil
		}
		req.Offset = page.GetNextOffset()
	}
	return all, nil
}

func parseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fail(ExitUsage, "--label %q: want key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}

func (o *options) lsCommand() *cobra.Command {
	var kind string
	var labels []string
	var local bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the node's live actors",
		Long: `List the node's live actors, sorted by PID: name, PID, kind, version, labels,
the user messages queued in each mailbox and held by an update in progress,
and the result of the last update that ended on the actor.

Against a member of a cluster whose admin knows it, the list is the whole
cluster's: every member's actors (grains with their identity label), by
member address, then a line per member with its count, or why it did not
answer; the command then exits 3 if a member did not, after listing the
others. --local lists the node alone.`,
		Example: `  molt ls
  molt ls --kind account --label region=eu
  molt ls --kind cart --label molt.cluster/identity=cart-42
  molt ls --local
  molt ls -o json | jq '.actors[] | select(.version == 1) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			l, err := parseLabels(labels)
			if err != nil {
				return err
			}
			return o.withClient(func(ctx context.Context, c *client) error {
				list, err := c.listActors(ctx, &admin.ListActors{Kind: kind, Labels: l, Local: local})
				if err != nil {
					return err
				}
				if len(list.GetMembers()) > 0 {
					return o.printClusterActors(list)
				}
				return o.printActors(list)
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only the actors of this kind")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "only the actors with this label, key=value (repeat for several)")
	cmd.Flags().BoolVar(&local, "local", false, "only the node's own actors, not its cluster's")
	return cmd
}

type actorView struct {
	Name       string            `json:"name"`
	PID        string            `json:"pid"`
	Kind       string            `json:"kind"`
	Version    uint32            `json:"version"`
	Labels     map[string]string `json:"labels,omitempty"`
	Queued     uint32            `json:"queued"`
	Held       uint32            `json:"held"`
	LastResult *resultView       `json:"last_result,omitempty"`
}

// viewActor is an actor of a list, for JSON.
func viewActor(a *admin.ActorInfo) actorView {
	return actorView{
		Name: a.GetName(), PID: pidText(a.GetPid().GetAddress(), a.GetPid().GetId()), Kind: a.GetKind(),
		Version: a.GetVersion(), Labels: a.GetLabels(), Queued: a.GetQueued(), Held: a.GetHeld(),
		LastResult: viewResult(a.GetLastUpdate()),
	}
}

func pidText(address, id string) string { return address + "/" + id }

func (o *options) printActors(list *admin.ActorList) error {
	if o.json() {
		out := struct {
			Actors []actorView `json:"actors"`
			Total  uint32      `json:"total"`
		}{Actors: []actorView{}, Total: list.GetTotal()}
		for _, a := range list.GetActors() {
			out.Actors = append(out.Actors, viewActor(a))
		}
		return writeJSON(o.stdout, out)
	}
	if len(list.GetActors()) == 0 {
		fmt.Fprintln(o.stdout, "no live actors match")
		return nil
	}
	w := table(o.stdout)
	fmt.Fprintln(w, "NAME\tPID\tKIND\tVERSION\tLABELS\tQUEUED\tHELD\tLAST RESULT")
	for _, a := range list.GetActors() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", a.GetName(), pidText(a.GetPid().GetAddress(), a.GetPid().GetId()),
			a.GetKind(), a.GetVersion(), labelsText(a.GetLabels()), a.GetQueued(), a.GetHeld(), resultText(a.GetLastUpdate()))
	}
	return w.Flush()
}

func (o *options) describeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND",
		Short: "Describe a kind: its versions, messages, adapters and migrations",
		Long: `Describe what the node's catalogue holds of a kind: per version, its state's
Go type and codec, the messages it declares it accepts, its adapters and its
live actors; and every migration, up and down (a version with a migration
there and one back can be updated to and rolled back from).`,
		Example: `  molt describe counter
  molt describe account -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return o.withClient(func(ctx context.Context, c *client) error {
				d, err := c.describe(ctx, args[0])
				if err != nil {
					return err
				}
				return o.printKind(d)
			})
		},
	}
}

func (c *client) describe(ctx context.Context, kind string) (*admin.KindDescription, error) {
	ans, err := c.ask(ctx, &admin.DescribeKind{Kind: kind})
	if err != nil {
		return nil, err
	}
	d, ok := ans.(*admin.KindDescription)
	if !ok {
		return nil, answerError("DescribeKind", ans)
	}
	return d, nil
}

type versionView struct {
	Version  uint32        `json:"version"`
	State    string        `json:"state"`
	Codec    string        `json:"codec"`
	Declared bool          `json:"declared"`
	Accepts  []string      `json:"accepts"`
	Adapters []adapterView `json:"adapters"`
	Cloned   bool          `json:"cloned"`
	Live     uint32        `json:"live_actors"`
}

type adapterView struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type migrationView struct {
	From uint32 `json:"from"`
	To   uint32 `json:"to"`
	Pure bool   `json:"pure"`
	Down bool   `json:"down"`
}

func (o *options) printKind(d *admin.KindDescription) error {
	if o.json() {
		out := struct {
			Kind       string          `json:"kind"`
			Versions   []versionView   `json:"versions"`
			Migrations []migrationView `json:"migrations"`
		}{Kind: d.GetKind(), Versions: []versionView{}, Migrations: []migrationView{}}
		for _, v := range d.GetVersions() {
			vv := versionView{Version: v.GetVersion(), State: v.GetState(), Codec: v.GetCodec(), Declared: v.GetDeclared(),
				Accepts: append([]string{}, v.GetAccepts()...), Adapters: []adapterView{}, Cloned: v.GetCloned(), Live: v.GetLiveActors()}
			for _, a := range v.GetAdapters() {
				vv.Adapters = append(vv.Adapters, adapterView{From: a.GetFrom(), To: a.GetTo()})
			}
			out.Versions = append(out.Versions, vv)
		}
		for _, m := range d.GetMigrations() {
			out.Migrations = append(out.Migrations, migrationView{From: m.GetFrom(), To: m.GetTo(), Pure: m.GetPure(), Down: m.GetDown()})
		}
		return writeJSON(o.stdout, out)
	}
	fmt.Fprintf(o.stdout, "kind %s\n\n", d.GetKind())
	w := table(o.stdout)
	fmt.Fprintln(w, "VERSION\tSTATE\tCODEC\tLIVE\tACCEPTS\tADAPTERS")
	for _, v := range d.GetVersions() {
		accepts := "any (not declared)"
		if v.GetDeclared() {
			accepts = orDash(strings.Join(v.GetAccepts(), ", "))
		}
		var adapters []string
		for _, a := range v.GetAdapters() {
			adapters = append(adapters, a.GetFrom()+" → "+a.GetTo())
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", v.GetVersion(), v.GetState(), v.GetCodec(), v.GetLiveActors(),
			accepts, orDash(strings.Join(adapters, ", ")))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.stdout)
	if len(d.GetMigrations()) == 0 {
		fmt.Fprintln(o.stdout, "no migrations")
		return nil
	}
	w = table(o.stdout)
	fmt.Fprintln(w, "MIGRATION\tDIRECTION\tPURE")
	for _, m := range d.GetMigrations() {
		dir, pure := "up", "no"
		if m.GetDown() {
			dir = "down"
		}
		if m.GetPure() {
			pure = "yes"
		}
		fmt.Fprintf(w, "%d → %d\t%s\t%s\n", m.GetFrom(), m.GetTo(), dir, pure)
	}
	return w.Flush()
}
