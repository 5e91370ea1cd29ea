//go:build race

package cluster_test

// remoteRace is true under the race detector, which reports races inside
// protoactor remote as soon as a process starts a second remote, at once or
// one after the other (see actor/race_remote_test.go). Under -race only
// TestGrainIsAMoltActor starts a remote; the tests of several members, of
// protoactor's own lookup and of etcd skip, and run without -race (.ci/run).
const remoteRace = true
