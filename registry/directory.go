package registry

import (
	"sort"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
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
// is safe for concurrent use; the zero value is not usable, call
// NewDirectory.
type Directory struct {
	mu      sync.RWMutex
	entries map[pidKey]Entry
	byID    map[string][]pidKey // the same actors by PID id, for ByName
}

// pidKey identifies a PID by address and id: two nodes may use the same id.
type pidKey struct{ address, id string }

func keyOf(pid *actor.PID) pidKey { return pidKey{pid.GetAddress(), pid.GetId()} }

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{entries: make(map[pidKey]Entry), byID: make(map[string][]pidKey)}
}

// Add records a live actor unless it is recorded already. The directory
// keeps labels as given: the caller must not modify them afterwards.
func (d *Directory) Add(pid *actor.PID, kind string, version uint32, labels map[string]string) {
	k := keyOf(pid)
	d.mu.Lock()
	if _, ok := d.entries[k]; !ok {
		d.entries[k] = Entry{PID: pid, Kind: kind, Version: version, Labels: labels}
		d.byID[k.id] = append(d.byID[k.id], k)
	}
	d.mu.Unlock()
}

// Set records the version a live actor runs now, keeping its labels.
func (d *Directory) Set(pid *actor.PID, kind string, version uint32) {
	k := keyOf(pid)
	d.mu.Lock()
	e, ok := d.entries[k]
	if !ok {
		d.byID[k.id] = append(d.byID[k.id], k)
	}
	e.PID, e.Kind, e.Version = pid, kind, version
	d.entries[k] = e
	d.mu.Unlock()
}

// Remove forgets an actor that stopped.
func (d *Directory) Remove(pid *actor.PID) {
	k := keyOf(pid)
	d.mu.Lock()
	if _, ok := d.entries[k]; ok {
		delete(d.entries, k)
		keys := d.byID[k.id]
		for i, o := range keys {
			if o == k {
				keys = append(keys[:i], keys[i+1:]...)
				break
			}
		}
		if len(keys) == 0 {
			delete(d.byID, k.id)
		} else {
			d.byID[k.id] = keys
		}
	}
	d.mu.Unlock()
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
