package manifest_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manifest"
)

type SessionV1 struct{ User string }

func (*SessionV1) Receive(actor.Context) {}

type SessionV2 struct{ User, Locale string }

func (*SessionV2) Receive(actor.Context) {}

// Load a package, build its plan against the catalogue and the live actors,
// and print the dry run. Nothing is sent to any actor.
func Example() {
	cat := registry.New()
	registry.Register(cat, "session", 1, func() *SessionV1 { return &SessionV1{} })
	registry.Register(cat, "session", 2, func() *SessionV2 { return &SessionV2{} })
	registry.Migrate(cat, "session", 1, 2, func(s *SessionV1) (*SessionV2, error) {
		return &SessionV2{User: s.User, Locale: "en"}, nil
	})

	// The live actors, as a node's directory records them (node.Directory()
	// gives the real one).
	var live []registry.Entry
	for _, name := range []string{"s-1", "s-2", "s-3", "s-4"} {
		live = append(live, registry.Entry{PID: actor.NewPID("nonhost", name), Kind: "session", Version: 1, Labels: map[string]string{"pool": "web"}})
	}
	live = append(live, registry.Entry{PID: actor.NewPID("nonhost", "s-admin"), Kind: "session", Version: 1, Labels: map[string]string{"pool": "admin"}})
	dir := registry.DirectoryOf(live...)

	p, err := manifest.Load(strings.NewReader(`
id: sessions-v2
updates:
  - kind: session
    from: [1]
    to: 2
    targets: {all: true, labels: {pool: web}}
groups:
  - {name: s-pair, members: [s-3, s-4]}
rollout: {strategy: rolling, canaries: 1, batchSize: 2}
`), manifest.FormatYAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := manifest.Build(p, cat, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan.WriteTo(os.Stdout)
	// Output:
	// package sessions-v2
	// rollout: rolling, 1 canary, batches of 2 units, at most 64 in flight, no pause, failure budget 0 then halt
	// quiescence: 2s per actor, no bound for the package
	// probation: none
	// step 1 of 1: session
	//   batch 1 of 2 (canary): 1 unit
	//     s-1 session 1→2
	//   batch 2 of 2: 2 units
	//     s-2 session 1→2
	//     group s-pair
	//       s-3 session 1→2
	//       s-4 session 1→2
	// total: 1 step, 2 batches, 3 units, 4 actors, 0 skipped
}

// Validate reports every problem of a package at once, each with its path.
func ExampleValidate() {
	p, err := manifest.Load(strings.NewReader(`
id: bad
updates:
  - {kind: session, to: 0, targets: {actors: [s-1]}}
groups:
  - {name: g, members: [s-1, s-9]}
rollout: {strategy: fast}
probation: {}
`), manifest.FormatYAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = manifest.Validate(p)
	fmt.Println(err)

	var ve *manifest.ValidationError
	if errors.As(err, &ve) {
		fmt.Println("first path:", ve.Problems[0].Path)
	}
	// Output:
	// invalid update package: 4 problems
	// 	updates[0].to: must be >= 1 (versions are numbered from 1)
	// 	groups[0].members[1]: "s-9" is not a target of any update
	// 	rollout.strategy: "fast" is not one of all-at-once, rolling
	// 	probation: give messages or duration (the window after commit), or leave probation out
	// first path: updates[0].to
}
