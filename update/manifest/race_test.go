//go:build race

package manifest_test

// raceEnabled is true when the tests run under the race detector, which
// slows the code down too much for wall-clock bounds to mean anything.
const raceEnabled = true
