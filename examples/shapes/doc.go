// Package shapes holds the worked update shapes of docs/update-shapes.md:
// one file per shape, each a kind with its versions, migrations and hooks,
// and a test that spawns it on a node, updates it and checks the outcome.
// Every code block of the page is an excerpt of these files, which
// TestPageMatchesCode checks.
package shapes
