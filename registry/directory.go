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
}

// Directory records which live actor runs which kind at which version. It
// is safe for concurrent use; the zero value is not usable, call
// NewDirectory.
type Directory struct {
	mu      sync.RWMutex
	entries map[string]Entry // by PID id
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{entries: make(map[string]Entry)}
}

// Add records a live actor unless it is recorded already.
func (d *Directory) Add(pid *actor.PID, kind string, version uint32) {
	d.mu.Lock()
	if _, ok := d.entries[pid.GetId()]; !ok {
		d.entries[pid.GetId()] = Entry{PID: pid, Kind: kind, Version: version}
	}
	d.mu.Unlock()
}

// Set records the version a live actor runs now.
func (d *Directory) Set(pid *actor.PID, kind string, version uint32) {
	d.mu.Lock()
	d.entries[pid.GetId()] = Entry{PID: pid, Kind: kind, Version: version}
	d.mu.Unlock()
}

// Remove forgets an actor that stopped.
func (d *Directory) Remove(pid *actor.PID) {
	d.mu.Lock()
	delete(d.entries, pid.GetId())
	d.mu.Unlock()
}

// Lookup returns what the directory knows of pid.
func (d *Directory) Lookup(pid *actor.PID) (Entry, bool) {
	d.mu.RLock()
	e, ok := d.entries[pid.GetId()]
	d.mu.RUnlock()
	return e, ok
}

// List returns the live actors of a kind, every kind if kind is empty,
// sorted by PID id.
func (d *Directory) List(kind string) []Entry {
	d.mu.RLock()
	out := make([]Entry, 0, len(d.entries))
	for _, e := range d.entries {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].PID.GetId() < out[j].PID.GetId() })
	return out
}

// Len returns the number of live actors recorded.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}
