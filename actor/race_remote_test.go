//go:build race

package actor_test

// remoteRace is true under the race detector, which reports races inside
// protoactor remote as soon as a process starts a second remote, at once
// or one after the other: every remote.Start calls grpclog.SetLoggerV2,
// writing a global that the gRPC goroutines of an earlier remote read
// (some outlive their connection), and endpointManager.stop writes its
// connections map while an endpoint event may read it. Tests that start
// more than one remote in this process skip then; the two-process test,
// with one remote here, runs.
const remoteRace = true
