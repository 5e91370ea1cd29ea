package cluster

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pc "github.com/asynkron/protoactor-go/cluster"
)

// versionMark joins a kind and a version into the name of a version kind:
// "counter.molt-v3" says that the member that registers it can run version
// 3 of counter. The characters are those a Kubernetes label name allows, so
// that the name survives every provider (the k8s provider turns kinds into
// pod labels; etcd and Consul keep them as strings).
const versionMark = ".molt-v"

// VersionKind returns the name under which a member publishes, among its
// cluster kinds, that it can run version v of kind.
func VersionKind(kind string, v uint32) string {
	return kind + versionMark + strconv.FormatUint(uint64(v), 10)
}

// ParseVersionKind splits a version kind's name; ok is false for any other
// kind name.
func ParseVersionKind(name string) (kind string, v uint32, ok bool) {
	i := strings.LastIndex(name, versionMark)
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(name[i+len(versionMark):], 10, 32)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return name[:i], uint32(n), true
}

// Policy is the cluster's compatibility policy: what happens to callers
// that speak an older interface of a kind than the version grains are asked
// to run.
type Policy int

const (
	// Adapt moves grains to the target version as soon as it is set: a
	// call shaped for an older interface reaches the newer version and is
	// turned into a message it accepts by the adapters registered on it
	// (registry.Adapt). An update to the target is refused by molt when
	// the target neither accepts nor adapts a message type the running
	// version accepts, so no call is left without a receiver.
	Adapt Policy = iota
	// Wait keeps grains at the newest version that every member hosting
	// the kind speaks (the highest version each can run) until the last
	// member on an older interface has left: calls shaped for an older
	// interface never reach a newer version; the move to the target waits
	// for them.
	Wait
)

func (p Policy) String() string {
	switch p {
	case Adapt:
		return "adapt"
	case Wait:
		return "wait"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// Target is a kind's target version as set by SetVersion somewhere in the
// cluster; the latest setting (highest Epoch) wins everywhere.
type Target struct {
	Version uint32 `json:"v"`
	Epoch   int64  `json:"e"`
}

func (t Target) newer(o Target) bool {
	return t.Epoch > o.Epoch || (t.Epoch == o.Epoch && t.Version > o.Version)
}

// member is what the table knows of a cluster member.
type member struct {
	m     *pc.Member
	runs  map[string][]uint32 // kind → versions it can run, ascending
	kinds map[string]bool     // every kind it registered
}

func memberOf(m *pc.Member) member {
	out := member{m: m, runs: map[string][]uint32{}, kinds: map[string]bool{}}
	for _, k := range m.Kinds {
		out.kinds[k] = true
		if kind, v, ok := ParseVersionKind(k); ok {
			out.runs[kind] = append(out.runs[kind], v)
		}
	}
	for _, vs := range out.runs {
		slices.Sort(vs)
	}
	return out
}

func (m member) canRun(kind string, v uint32) bool {
	_, ok := slices.BinarySearch(m.runs[kind], v)
	return ok
}

// speaks is the member's interface of kind: the newest version it runs,
// whose messages its callers send.
func (m member) speaks(kind string) uint32 {
	vs := m.runs[kind]
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)-1]
}

// table is a member's view of the cluster's versions: which member runs
// which versions (from the topology), each kind's target (from gossip and
// SetVersion), and which members are leaving. Every method is safe for
// concurrent use.
type table struct {
	policy Policy

	mu      sync.RWMutex
	members []member          // the topology, in its order
	targets map[string]Target // kind → latest target known here
	leaving map[string]bool   // addresses of members that leave: no grain is placed on them
	changed time.Time         // the latest change of owners: topology, target or a member leaving

	// rv caches, per kind, the rendezvous hashing over the eligible
	// members, built on first use after a change (gen counts changes):
	// a member checks the owner of each of its grains on every change.
	rv  map[string]*pc.Rendezvous
	gen uint64
}

func newTable(p Policy) *table {
	return &table{policy: p, targets: map[string]Target{}, leaving: map[string]bool{}}
}

// setMembers replaces the topology.
func (t *table) setMembers(ms []*pc.Member) {
	out := make([]member, 0, len(ms))
	present := make(map[string]bool, len(ms))
	for _, m := range ms {
		out = append(out, memberOf(m))
		present[m.Address()] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.invalidate()
	if len(out) != len(t.members) {
		t.changed = time.Now()
	} else {
		for _, m := range t.members {
			if !present[m.m.Address()] {
				t.changed = time.Now()
				break
			}
		}
	}
	t.members = out
	for addr := range t.leaving {
		if !present[addr] {
			delete(t.leaving, addr) // gone: nothing to remember
		}
	}
}

// leave marks the member at addr as leaving and reports whether it was
// not already: it holds no grain from now on, and a kind's version is
// computed without it.
func (t *table) leave(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaving[addr] {
		return false
	}
	t.leaving[addr] = true
	t.changed = time.Now()
	t.invalidate()
	return true
}

// isLeaving reports whether the member at addr leaves.
func (t *table) isLeaving(addr string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.leaving[addr]
}

// settled reports whether owners have not changed for d: then a member
// asked to activate a grain it does not hold can rely on no other member
// holding it (a member that held it has handed it over by then, or keeps
// retrying to), and need not ask the others first.
func (t *table) settled(d time.Duration) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return time.Since(t.changed) > d
}

// learn records a target and reports whether it is newer than the one
// known for its kind.
func (t *table) learn(kind string, tg Target) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.targets[kind]; ok && !tg.newer(old) {
		return false
	}
	t.targets[kind] = tg
	t.changed = time.Now()
	t.invalidate()
	return true
}

// encodeTargets is the gossip value of the targets known here.
func (t *table) encodeTargets() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, _ := json.Marshal(t.targets) // a map of plain values cannot fail
	return string(b)
}

func decodeTargets(s string) (map[string]Target, error) {
	var out map[string]Target
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// versioned reports whether any member publishes versions of kind: a kind
// without any is not a molt kind, and is placed as protoactor would.
func (t *table) versioned(kind string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.members {
		if len(m.runs[kind]) > 0 {
			return true
		}
	}
	return false
}

// Current returns the version grains of kind run in the cluster as this
// member sees it, and false when no member hosts the kind.
func (t *table) current(kind string) (uint32, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.currentLocked(kind)
}

func (t *table) currentLocked(kind string) (uint32, bool) {
	var hosts []member
	for _, m := range t.members {
		if len(m.runs[kind]) > 0 && !t.leaving[m.m.Address()] {
			hosts = append(hosts, m)
		}
	}
	if len(hosts) == 0 {
		return 0, false
	}
	target, set := t.targets[kind]
	v := target.Version
	if !set {
		v = defaultVersion(kind, hosts)
	}
	if t.policy == Wait {
		for _, m := range hosts {
			v = min(v, m.speaks(kind))
		}
	}
	return v, true
}

// defaultVersion is the target of a kind nobody set: the newest version
// every host runs, or, when they share none, the newest one any runs.
func defaultVersion(kind string, hosts []member) uint32 {
	common := slices.Clone(hosts[0].runs[kind])
	newest := uint32(0)
	for _, m := range hosts {
		common = slices.DeleteFunc(common, func(v uint32) bool { return !m.canRun(kind, v) })
		newest = max(newest, m.speaks(kind))
	}
	if len(common) > 0 {
		return common[len(common)-1]
	}
	return newest
}

// eligible returns the members that may hold an activation of kind: for a
// molt kind, those that run its current version; for any other kind, those
// that registered it; never a member that leaves.
func (t *table) eligible(kind string) []*pc.Member {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*pc.Member
	v, molt := t.currentLocked(kind)
	for _, m := range t.members {
		if t.leaving[m.m.Address()] {
			continue
		}
		if (molt && m.canRun(kind, v)) || (!molt && m.kinds[kind]) {
			out = append(out, m.m)
		}
	}
	return out
}

// owner returns the address of the member that should hold ci's
// activation, "" when no member may: rendezvous hashing (protoactor's) over
// the eligible members, so that every member that agrees on the topology
// and the targets picks the same owner.
func (t *table) owner(ci *pc.ClusterIdentity) string {
	t.mu.RLock()
	r, ok := t.rv[ci.Kind]
	gen := t.gen
	t.mu.RUnlock()
	if !ok {
		r = pc.NewRendezvous()
		r.UpdateMembers(t.eligible(ci.Kind))
		t.mu.Lock()
		if t.gen == gen { // nothing changed meanwhile
			if t.rv == nil {
				t.rv = map[string]*pc.Rendezvous{}
			}
			t.rv[ci.Kind] = r
		}
		t.mu.Unlock()
	}
	return r.GetByClusterIdentity(ci)
}

// invalidate drops the cached rendezvous hashing; t.mu is held.
func (t *table) invalidate() {
	t.gen++
	clear(t.rv)
}

// hosts returns the addresses of the members other than self that host
// kind, leaving ones included: those that may hold one of its grains.
func (t *table) hosts(kind, self string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for _, m := range t.members {
		if a := m.m.Address(); a != self && (m.kinds[kind] || len(m.runs[kind]) > 0) {
			out = append(out, a)
		}
	}
	return out
}

// present reports whether the member at addr is in the topology.
func (t *table) present(addr string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.members {
		if m.m.Address() == addr {
			return true
		}
	}
	return false
}

// addresses returns every member's address.
func (t *table) addresses() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, m.m.Address())
	}
	return out
}
