package registry

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
)

// Entry is what the directory knows of one live actor.
type Entry struct {
	PID     *actor.PID
	Kind    string
	Version uint32
	// Labels are the ones the actor was spawned with; never modified.
	Labels map[string]string
}

// Directory records which live actor runs which kind at which version. It
// is safe for concurrent use. It is read-only to users: a node's directory
// (actor.Node.Directory) is changed only by the runtime, as actors start,
// update and stop, so that what it says can be trusted. DirectoryOf makes
// a fixed one.
type Directory struct {
	mu sync.RWMutex
	// byID has the actors by PID id: a node's directory, with one address,
	// needs no more, and one map entry per actor is most of what an idle
	// actor costs here. Actors of other addresses whose id byID holds
	// already (a directory of several nodes: DirectoryOf) are in others.
	byID   map[string]Entry
	others map[string][]Entry // nil until an id is seen on two addresses
	count  int
}

// DirectoryOf returns a directory that holds entries, the first of any two
// with the same PID, and never changes: live actors recorded elsewhere, to
// plan against in a dry run (manifest.Build) or in a test. It keeps labels
// as given: the caller must not modify them afterwards.
func DirectoryOf(entries ...Entry) *Directory {
	d := &Directory{byID: make(map[string]Entry, len(entries))}
	w := (*writer)(d)
	for _, e := range entries {
		w.Add(e.PID, e.Kind, e.Version, e.Labels)
	}
	return d
}

// writer is the write side of a Directory. Its methods are exported only to
// satisfy directory.Writer: a *writer is reachable through that internal
// package alone, so only molt's runtime can change a directory.
type writer Directory

func init() {
	directory.WriterOf = func(dir any) directory.Writer { return (*writer)(dir.(*Directory)) }
}

// find returns where pid's entry is: in byID (i < 0) or others[id][i];
// ok is false when pid is not recorded. The caller holds the lock.
func (d *Directory) find(pid *actor.PID) (e Entry, i int, ok bool) {
	id := pid.GetId()
	e, ok = d.byID[id]
	if !ok {
		return Entry{}, 0, false
	}
	if e.PID.GetAddress() == pid.GetAddress() {
		return e, -1, true
	}
	for i, o := range d.others[id] {
		if o.PID.GetAddress() == pid.GetAddress() {
			return o, i, true
		}
	}
	return Entry{}, 0, false
}

// put records e at i, as find returned it, or as a new entry when ok is
// false. The caller holds the lock.
func (d *Directory) put(e Entry, i int, ok bool) {
	id := e.PID.GetId()
	switch {
	case ok && i < 0:
		d.byID[id] = e
	case ok:
		d.others[id][i] = e
	default:
		d.count++
		if _, taken := d.byID[id]; !taken {
			d.byID[id] = e
			return
		}
		if d.others == nil {
			d.others = make(map[string][]Entry)
		}
		d.others[id] = append(d.others[id], e)
	}
}

func (w *writer) Add(pid *actor.PID, kind string, version uint32, labels map[string]string) {
	d := (*Directory)(w)
	d.mu.Lock()
	if _, i, ok := d.find(pid); !ok {
		d.put(Entry{PID: pid, Kind: kind, Version: version, Labels: labels}, i, false)
	}
	d.mu.Unlock()
}

func (w *writer) Set(pid *actor.PID, kind string, version uint32) {
	d := (*Directory)(w)
	d.mu.Lock()
	e, i, ok := d.find(pid)
	e.PID, e.Kind, e.Version = pid, kind, version
	d.put(e, i, ok)
	d.mu.Unlock()
}

func (w *writer) Remove(pid *actor.PID) {
	d := (*Directory)(w)
	d.mu.Lock()
	defer d.mu.Unlock()
	_, i, ok := d.find(pid)
	if !ok {
		return
	}
	d.count--
	id := pid.GetId()
	more := d.others[id]
	switch {
	case i < 0 && len(more) == 0:
		delete(d.byID, id)
		return
	case i < 0:
		// Another address's actor with this id takes its place.
		d.byID[id] = more[0]
		more = more[1:]
	default:
		more = append(more[:i], more[i+1:]...)
	}
	if len(more) == 0 {
		delete(d.others, id)
	} else {
		d.others[id] = more
	}
}

// each calls fn for every entry until it returns false. The caller holds
// the lock.
func (d *Directory) each(fn func(Entry) bool) {
	for _, e := range d.byID {
		if !fn(e) {
			return
		}
	}
	for _, more := range d.others {
		for _, e := range more {
			if !fn(e) {
				return
			}
		}
	}
}

// RangeNames is Range for molt's own code, which reaches it on the write
// side (internal/directory.WriterOf, then an interface with this method):
// not a change, but a read that users need not see. It calls fn for each
// live actor of a kind (every kind if kind is empty), in no particular
// order, until fn returns false, with
//
//   - name, the actor's PID id, which the directory is keyed by: fn need
//     not read the PID to learn it;
//   - unique, whether the actor is the only live one so named, of any kind
//     and on any address. In a directory of one node every name is unique;
//     fn is called with two entries of one name only where unique is
//     false for both.
//
// It holds the directory's read lock meanwhile, as Range does: what fn is
// told holds for the directory at one moment, and fn must not call the
// directory.
func (w *writer) RangeNames(kind string, fn func(name string, e Entry, unique bool) bool) {
	d := (*Directory)(w)
	d.mu.RLock()
	defer d.mu.RUnlock()
	for id, e := range d.byID {
		if (kind == "" || e.Kind == kind) && !fn(id, e, len(d.others) == 0 || len(d.others[id]) == 0) {
			return
		}
	}
	for id, more := range d.others {
		for _, e := range more {
			if (kind == "" || e.Kind == kind) && !fn(id, e, false) {
				return
			}
		}
	}
}

// ByName returns the live actors whose PID id is name, on any address,
// sorted by address; in one node there is at most one.
func (d *Directory) ByName(name string) []Entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.byID[name]
	if !ok {
		return nil
	}
	more := d.others[name]
	if len(more) == 0 {
		return []Entry{e}
	}
	out := append([]Entry{e}, more...)
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.PID.GetAddress(), b.PID.GetAddress()) })
	return out
}

// Lookup returns what the directory knows of pid.
func (d *Directory) Lookup(pid *actor.PID) (Entry, bool) {
	d.mu.RLock()
	e, _, ok := d.find(pid)
	d.mu.RUnlock()
	return e, ok
}

// List returns the live actors of a kind, every kind if kind is empty,
// sorted by PID address and id.
func (d *Directory) List(kind string) []Entry {
	d.mu.RLock()
	out := make([]Entry, 0, d.count)
	d.each(func(e Entry) bool {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
		return true
	})
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].PID, out[j].PID
		if a.GetAddress() != b.GetAddress() {
			return a.GetAddress() < b.GetAddress()
		}
		return a.GetId() < b.GetId()
	})
	return out
}

// Range calls fn for each live actor of a kind (every kind if kind is
// empty), in no particular order, until fn returns false. It holds the
// directory's read lock meanwhile: fn must not call the directory. It is
// the cheap way through a large fleet: no copy, no sort.
func (d *Directory) Range(kind string, fn func(Entry) bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.each(func(e Entry) bool { return (kind != "" && e.Kind != kind) || fn(e) })
}

// Len returns the number of live actors recorded.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.count
}
