package registry

import (
	"cmp"
	"slices"
)

// VersionInfo describes one registered version of a kind, for tools that
// show an operator what a catalogue holds (molt's admin service). Types are
// given by their Go names (reflect's String), which is what an operator
// recognises from the code; they are descriptions, not keys.
type VersionInfo struct {
	Version uint32
	// State is the type of the version's state (its behaviour value).
	State string
	// Codec is the state's codec: "protobuf", "msgpack" or the name of
	// another codec.
	Codec string
	// Declared says the version declared its message interface (Accepts);
	// when false, Accepts is empty and an update to it is not checked
	// against it.
	Declared bool
	// Accepts lists the message types the version declared, sorted.
	Accepts []string
	// Adapters lists the version's adapters, sorted by From.
	Adapters []AdapterInfo
	// Cloned says the version registered its own deep copy (Clone); else
	// a migration's input is isolated by a round trip through the codec.
	Cloned bool
	// StateOnly says the version was registered with RegisterState: this
	// binary reads its states and migrates them on, but cannot run it.
	StateOnly bool
}

// AdapterInfo describes an adapter: messages of type From are delivered to
// the version as To.
type AdapterInfo struct {
	From, To string
}

// Describe returns what the catalogue holds of a kind's versions, in
// ascending order, and false for a kind that is not registered. It copies
// what it returns: the catalogue may change meanwhile, and the caller may
// keep the answer. Migrations are given by Migrations.
func (c *Catalog) Describe(kind string) ([]VersionInfo, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := c.kinds[kind]
	if k == nil {
		return nil, false
	}
	out := make([]VersionInfo, 0, len(k.versions))
	for _, v := range k.versions {
		vi := VersionInfo{
			Version:   v.number,
			State:     v.state.String(),
			Codec:     v.codec.Name(),
			Declared:  v.accepts != nil,
			Cloned:    v.clone != nil,
			StateOnly: !v.runnable,
		}
		for t := range v.accepts {
			vi.Accepts = append(vi.Accepts, t.String())
		}
		slices.Sort(vi.Accepts)
		for in, a := range v.adapters {
			vi.Adapters = append(vi.Adapters, AdapterInfo{From: in.String(), To: a.out.String()})
		}
		slices.SortFunc(vi.Adapters, func(a, b AdapterInfo) int {
			return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
		})
		out = append(out, vi)
	}
	slices.SortFunc(out, func(a, b VersionInfo) int { return cmp.Compare(a.Version, b.Version) })
	return out, true
}
