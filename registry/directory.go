package registry

import (
	"sort"
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
	mu      sync.RWMutex
	entries map[pidKey]Entry
	byID    map[string][]pidKey // the same actors by PID id, for ByName
}

// pidKey identifies a PID by address and id: two nodes may use the same id.
type pidKey struct{ address, id string }

func keyOf(pid *actor.PID) pidKey { return pidKey{pid.GetAddress(), pid.GetId()} }

// DirectoryOf returns a directory that holds entries, the first of any two
// with the same PID, and never changes: live actors recorded elsewhere, to
// plan against in a dry run (manifest.Build) or in a test. It keeps labels
// as given: the caller must not modify them afterwards.
func DirectoryOf(entries ...Entry) *Directory {
	d := &Directory{entries: make(map[pidKey]Entry, len(entries)), byID: make(map[string][]pidKey, len(entries))}
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

func (w *writer) Add(pid *actor.PID, kind string, version uint32, labels map[string]string) {
	k := keyOf(pid)
	w.mu.Lock()
	if _, ok := w.entries[k]; !ok {
		w.entries[k] = Entry{PID: pid, Kind: kind, Version: version, Labels: labels}
		w.byID[k.id] = append(w.byID[k.id], k)
	}
	w.mu.Unlock()
}

func (w *writer) Set(pid *actor.PID, kind string, version uint32) {
	k := keyOf(pid)
	w.mu.Lock()
	e, ok := w.entries[k]
	if !ok {
		w.byID[k.id] = append(w.byID[k.id], k)
	}
	e.PID, e.Kind, e.Version = pid, kind, version
	w.entries[k] = e
	w.mu.Unlock()
}

func (w *writer) Remove(pid *actor.PID) {
	k := keyOf(pid)
	w.mu.Lock()
	if _, ok := w.entries[k]; ok {
		delete(w.entries, k)
		keys := w.byID[k.id]
		for i, o := range keys {
			if o == k {
				keys = append(keys[:i], keys[i+1:]...)
				break
			}
		}
		if len(keys) == 0 {
			delete(w.byID, k.id)
		} else {
			w.byID[k.id] = keys
		}
	}
	w.mu.Unlock()
}

// ByName returns the live actors whose PID id is name, on any address,
// sorted by address; in one node there is at most one.
func (d *Directory) ByName(name string) []Entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	keys := d.byID[name]
	if len(keys) == 0 {
		return nil
	}
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = d.entries[k]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID.GetAddress() < out[j].PID.GetAddress() })
	return out
}

// Lookup returns what the directory knows of pid.
func (d *Directory) Lookup(pid *actor.PID) (Entry, bool) {
	d.mu.RLock()
	e, ok := d.entries[keyOf(pid)]
	d.mu.RUnlock()
	return e, ok
}

// List returns the live actors of a kind, every kind if kind is empty,
// sorted by PID address and id.
func (d *Directory) List(kind string) []Entry {
	d.mu.RLock()
	out := make([]Entry, 0, len(d.entries))
	for _, e := range d.entries {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
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
	for _, e := range d.entries {
		if (kind == "" || e.Kind == kind) && !fn(e) {
			return
		}
	}
}

// Len returns the number of live actors recorded.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}
