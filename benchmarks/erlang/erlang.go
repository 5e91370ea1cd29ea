// Package erlang carries the Erlang/OTP peer of molt's benchmark runner:
// molt_peer.erl, a gen_server updated the way OTP updates a process
// (sys:suspend, sys:change_code, sys:resume), one process at a time for
// the update round trip and a fleet from one coordinator for the rate. The
// source is embedded so that the runner can compile it with erlc wherever
// it runs from; the file's header says how it is run and what it prints,
// and package harness (ErlangPeer, ParseErlangOutput) runs it and reads it.
package erlang

import _ "embed"

// Module is the name of the Erlang module, and Source its text: write it
// to Module + ".erl" and compile it with erlc.
const Module = "molt_peer"

// Source is the text of molt_peer.erl.
//
//go:embed molt_peer.erl
var Source []byte
