// Package registrytest tests a kind's migrations the way a live update will
// use them, property by property, with generated states.
//
// One call in a test of yours checks a whole kind:
//
//	func TestCounterMigrations(t *testing.T) {
//		registrytest.Check(t, catalog(), "counter",
//			registrytest.States(3, genCounterV3), // states that satisfy version 3's invariants
//			registrytest.Lossless(1, 2),           // 2→1 undoes 1→2
//		)
//	}
//
// Check runs these properties as subtests, each with states drawn by
// pgregory.net/rapid:
//
//   - codec/vN: every state of version N, valid or not, survives its
//     codec's round trip (the copy that isolates a migration's input, and
//     the form a state takes to leave the process): no exported field is
//     dropped or changed.
//   - migration/A-B: every registered migration, given a state that
//     satisfies version A's invariants (update.Checker), succeeds and
//     returns a state that satisfies version B's.
//   - chain/A-B: the same for every pair of versions linked only through
//     other versions, along the chain an update would take (Catalog.Plan).
//   - shortcut/A-B: a direct migration A→B and the chain it shortcuts
//     (the shortest one that does not use it) give equal states.
//   - lossless/A-B: for each pair declared with Lossless, migrating a state
//     of A to B and back gives the same state.
//   - messages/A-B: every message type version A declares (Accepts) is
//     accepted by version B, or adapted, for every migration A→B and every
//     pair of consecutive versions.
//
// A failure names the property, the versions and the field that differs,
// and rapid prints the smallest state it found that breaks the property.
//
// # States
//
// Without a generator for a version, Check makes states from the version's
// factory and fills every exported field it can (numbers, strings, booleans,
// slices, arrays, maps, pointers, nested structs, time.Time) with small
// random values; interface, channel and function fields are left as the
// factory made them. States that break the version's invariants are
// discarded. When a version's invariants tie fields together (a total that
// is the sum of counts, say), random states rarely satisfy them and rapid
// reports that it found too few valid states: give that version a
// generator with States, one that builds valid states (for example by
// applying random operations to a fresh one).
//
// Equality compares exported fields, deeply; a nil slice or map equals an
// empty one, NaN equals NaN, and a type with an Equal method (time.Time) is
// compared with it.
package registrytest
