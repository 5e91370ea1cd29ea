// Package envelope defines molt's state envelope: an actor's state in
// versioned, self-describing form, for when it leaves the actor. A takeover
// sends envelopes from an old process to a new one; a store keeps them as
// snapshots. An envelope names the kind, the version that wrote the state
// and the codec that encoded it, and carries a CRC-32C of the state bytes.
//
// The package only frames and checks: it does not know kinds or versions.
// registry.Catalog.Seal makes an envelope from a live state, and
// registry.Catalog.Open turns one back into a live state of any version the
// catalogue has a migration path to, including from versions the binary no
// longer runs (registry.RegisterState).
//
// # Rules
//
// Unmarshal and Check refuse before anything trusts the content: an
// envelope over MaxSize, one that is not protobuf, one of a format this
// package does not know, one without a kind, version or codec, fields over
// their bounds, or state bytes whose checksum does not match. Every error
// wraps ErrMalformed, ErrFormat or ErrCorrupt and says what was wrong.
//
// An Envelope is a protobuf message (envelope.proto, package
// molt.envelope.v1): it crosses processes through protoactor remote as any
// other message, and any store of proto messages can keep it.
package envelope
