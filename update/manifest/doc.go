// Package manifest defines molt's update packages: self-describing
// descriptions of a live update that an operator writes in YAML or JSON (or a
// program builds in Go), and the plan the update manager runs for one.
//
// A Package says which kinds go to which version (Updates), which live
// actors are targeted (by name, or every live actor of a kind at given
// versions, optionally filtered by the labels it was spawned with), which
// actors form all-or-nothing groups (Groups), which kinds or actors must be
// updated before others (Order), how long each actor may take to reach a
// stable state (Quiescence), how fast the update spreads (Rollout: all at
// once, or rolling batches with canaries and a failure budget), and how
// long each updated actor stays on probation (Probation).
//
// The life of a package:
//
//	p, err := manifest.LoadFile("bank-v2.yaml") // strict decoding
//	err = manifest.Validate(p)                  // every static problem, with field paths
//	plan, err := manifest.Build(p, cat, dir)    // resolved against the catalogue and the live actors
//	plan.WriteTo(os.Stdout)                     // the dry run: touches no actor
//
// Build validates, so the middle step is optional. Problems come back as a
// *ValidationError that lists each one with its field path, such as
// "updates[1].to: must be >= 1". The file format is described in
// docs/update-packages.md.
//
// The Plan is the contract with the update manager: Steps run in order (a
// step after the previous one has committed; rollback in reverse), each
// step's Batches run in order, the Units of a batch run concurrently (at
// most Rollout.MaxInFlight at once), and each Unit is one actor or one
// all-or-nothing group.
package manifest
