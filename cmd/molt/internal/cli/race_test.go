//go:build race

package cli_test

// remoteRace is true under the race detector, which reports races inside
// protoactor remote as soon as a process starts a second remote, at once
// or one after the other (every remote.Start sets gRPC's global logger,
// which an earlier remote's goroutines read). The CLI run in process
// starts a remote of its own beside the test node's, so those tests skip
// then; the test that runs the built CLI as another process does not.
const remoteRace = true
