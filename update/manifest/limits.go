package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits bound what Load accepts, so that a package from outside (a file,
// a RunPackage message) cannot make the loader use unbounded time or
// memory. A zero field takes its default (see DefaultLimits), so the zero
// Limits is the defaults; a negative field is an error. The defaults are far
// above what an honest package needs: raise one only for a package known to
// be that large. A package over a limit is refused with a *LimitError that
// names the limit.
//
// The cost of loading is linear in the size of the document: a YAML
// document costs about 60 bytes of allocation per byte, JSON about 10.
type Limits struct {
	// MaxBytes bounds the size of the document in bytes, and, for YAML,
	// its size with every alias written out in full. Default 1 MiB
	// (1,048,576).
	MaxBytes int
	// MaxDepth bounds the nesting of lists and mappings; the package
	// itself is depth 1, the labels of a target depth 5. Default 32.
	MaxDepth int
	// MaxAliases bounds the number of YAML aliases (*name). Default 1,000.
	MaxAliases int
	// MaxString bounds the length in bytes of every string: keys, names,
	// label values, the description. Default 64 KiB (65,536).
	MaxString int
	// MaxUpdates bounds the entries of updates. Default 1,000.
	MaxUpdates int
	// MaxTargets bounds the actors named in targets, over all updates.
	// Default 100,000.
	MaxTargets int
	// MaxGroups bounds the entries of groups. Default 10,000.
	MaxGroups int
	// MaxOrder bounds the entries of order. Default 10,000.
	MaxOrder int
	// MaxLabels bounds the labels of one update's targets. Default 100.
	MaxLabels int
	// MaxList bounds every other list and mapping: from, the members of a
	// group, the after of an order entry, and the keys of a mapping.
	// Default 10,000.
	MaxList int
}

// DefaultLimits returns the limits Load and LoadFile apply, which a zero
// field of Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:   1 << 20,
		MaxDepth:   32,
		MaxAliases: 1000,
		MaxString:  64 << 10,
		MaxUpdates: 1000,
		MaxTargets: 100_000,
		MaxGroups:  10_000,
		MaxOrder:   10_000,
		MaxLabels:  100,
		MaxList:    10_000,
	}
}

// limit is one field of Limits, by name.
type limit struct {
	name string
	v    *int
}

func (l *Limits) fields() []limit {
	return []limit{
		{"MaxBytes", &l.MaxBytes}, {"MaxDepth", &l.MaxDepth}, {"MaxAliases", &l.MaxAliases},
		{"MaxString", &l.MaxString}, {"MaxUpdates", &l.MaxUpdates}, {"MaxTargets", &l.MaxTargets},
		{"MaxGroups", &l.MaxGroups}, {"MaxOrder", &l.MaxOrder}, {"MaxLabels", &l.MaxLabels},
		{"MaxList", &l.MaxList},
	}
}

// withDefaults returns the limits with each zero field set to its default,
// or an error naming each negative field.
func (l Limits) withDefaults() (Limits, error) {
	def := DefaultLimits()
	dfs := def.fields()
	var errs []error
	for i, f := range l.fields() {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("manifest: Limits.%s is %d; give a positive limit, or 0 for the default (%d)", f.name, *f.v, *dfs[i].v))
		case *f.v == 0:
			*f.v = *dfs[i].v
		}
	}
	return l, errors.Join(errs...)
}

// LimitError says that a package is over one of its Limits. Load returns
// it, possibly wrapped (use errors.As).
type LimitError struct {
	// Limit is the name of the field of Limits: "MaxBytes", "MaxOrder"...
	Limit string
	// Max is the value of the limit that was exceeded.
	Max int
	// Path is the field path of the value over the limit, as in a Problem
	// ("order", "updates[0].targets.actors"), or "" for the whole document.
	Path string
	// Line is the line of the document where the limit was passed, when
	// known; 0 otherwise.
	Line int
	// What says what is over the limit: "more than 10000 entries".
	What string
}

// Error says where, what, which limit, and how to raise it.
func (e *LimitError) Error() string {
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Path != "" {
		where += e.Path + ": "
	}
	return fmt.Sprintf("%s%s, over the limit Limits.%s = %d; raise it with manifest.LoadLimited if the package is meant to be that large",
		where, e.What, e.Limit, e.Max)
}

// LoadLimited is Load with the given limits instead of the defaults. It
// reads at most l.MaxBytes+1 bytes from r.
func LoadLimited(r io.Reader, f Format, l Limits) (*Package, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(l.MaxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: reading the package: %w", err)
	}
	return decode(data, f, l)
}

// LoadFileLimited is LoadFile with the given limits instead of the
// defaults. It reads at most l.MaxBytes+1 bytes of the file.
func LoadFileLimited(path string, l Limits) (*Package, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, int64(l.MaxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: %s: %w", path, err)
	}
	p, err := decode(data, f, l)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
