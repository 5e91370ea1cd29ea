package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Format is the format of a package file.
type Format string

// The formats Load reads.
const (
	FormatYAML Format = "yaml"
	FormatJSON Format = "json"
)

// FormatOf returns the format of a file from its extension: .yaml or .yml
// for YAML, .json for JSON.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return FormatYAML, nil
	case ".json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("manifest: %s: cannot tell the format from the extension; name the file .yaml, .yml or .json", path)
}

// ParseFormat turns a format named by a user (a command-line flag, the
// format field of a message) into a Format: "yaml" or "yml" is FormatYAML,
// "json" is FormatJSON, in any case. The empty string is FormatYAML, the
// format a package is written in when nobody says. Anything else is an
// error that lists the accepted names, and the Format is "".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "yaml", "yml":
		return FormatYAML, nil
	case "json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("manifest: unknown package format %q; use \"yaml\", \"yml\" or \"json\" (or nothing, for YAML)", s)
}

func checkFormat(f Format) error {
	if f != FormatYAML && f != FormatJSON {
		return fmt.Errorf("manifest: unknown format %q; use manifest.FormatYAML or manifest.FormatJSON (manifest.ParseFormat reads a format name)", f)
	}
	return nil
}

// LoadFile reads a package from a file, in the format its extension names
// (see FormatOf), within the default limits (see LoadFileLimited). Errors
// start with the path.
func LoadFile(path string) (*Package, error) {
	return LoadFileLimited(path, Limits{})
}

// Load reads a package in YAML or JSON. Decoding is strict and reports every
// problem of the file's shape at once, as a *ValidationError with field
// paths (and lines, for JSON): unknown keys (keys are case-sensitive),
// duplicate keys, values of the wrong type (a list where a name is wanted, a
// number where a duration string is wanted, a negative version number). A
// syntax error is reported with its line. YAML is read as YAML 1.1 through
// JSON (sigs.k8s.io/yaml), so both formats share the json keys. A YAML file
// holds one document. YAML 1.1 reads unquoted 01 as the number 1 and yes,
// no, on and off as booleans: where a string is wanted (names, label
// values), such a value is an error that asks for quotes rather than a
// silently changed string.
//
// A leading UTF-8 byte-order mark is skipped.
//
// Load applies the default Limits (see DefaultLimits; LoadLimited takes
// others): it reads at most MaxBytes+1 bytes, and refuses a package over a
// limit with a *LimitError before spending more on it.
//
// Load does not validate the package's content (required fields, ranges,
// references between fields) and does not fill defaults: call Validate, or
// Build, which validates.
func Load(r io.Reader, f Format) (*Package, error) {
	return LoadLimited(r, f, Limits{})
}

// bom is the UTF-8 byte-order mark, which some editors write at the start
// of a file.
const bom = "\ufeff"

// decode reads a package of data; l has its defaults filled.
func decode(data []byte, f Format, l Limits) (*Package, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if len(data) > l.MaxBytes {
		return nil, fmt.Errorf("manifest: %w", &LimitError{Limit: "MaxBytes", Max: l.MaxBytes, What: fmt.Sprintf("the package is larger than %d bytes", l.MaxBytes)})
	}
	data = bytes.TrimPrefix(data, []byte(bom))
	var (
		root *jnode
		err  error
		src  = data // the JSON text to decode
	)
	switch f {
	case FormatJSON:
		root, err = parseJSON(data, true, l)
		if err != nil {
			return nil, fmt.Errorf("manifest: JSON: %w", err)
		}
	case FormatYAML:
		if line := secondDocument(data); line > 0 {
			return nil, fmt.Errorf("manifest: YAML: line %d: a second document; a package file holds one", line)
		}
		// The converter expands aliases and builds the whole document:
		// bound its work first.
		if err := scanYAML(data, l); err != nil {
			return nil, fmt.Errorf("manifest: YAML: %w", err)
		}
		j, yerr := yaml.YAMLToJSONStrict(data)
		if yerr != nil {
			return nil, fmt.Errorf("manifest: YAML: %w", yerr)
		}
		src = j
		// The JSON is about as large as the document with its aliases
		// written out, which scanYAML bounded.
		root, err = parseJSON(j, false, l)
		if err != nil {
			return nil, fmt.Errorf("manifest: YAML: %w", err)
		}
	}

	var ps problems
	if root.kind == kNull {
		ps.add("package", "the package is empty")
		return nil, ps.err()
	}
	check(&ps, root, reflect.TypeFor[Package](), "", f == FormatYAML)
	if err := ps.err(); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	var p Package
	if err := dec.Decode(&p); err != nil { // not expected after check
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &p, nil
}

// secondDocument returns the line of a "---" that starts a second YAML
// document, or 0. (The YAML decoder reads the first document only.) A "---"
// at the start of a line is always a document marker: the lines of a block
// scalar are indented.
func secondDocument(data []byte) int {
	content := false
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "---") && (len(line) == 3 || line[3] == ' ' || line[3] == '\t') {
			if content {
				return i + 1
			}
			content = strings.TrimSpace(line[3:]) != "" && !strings.HasPrefix(strings.TrimSpace(line[3:]), "#")
			continue
		}
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(line, "%") {
			content = true
		}
	}
	return 0
}

// jnode is a parsed JSON value that remembers the order and lines of
// object keys.
type jnode struct {
	kind  jkind
	keys  []string // object
	lines []int    // object: line of each key, 0 if unknown
	vals  []*jnode // object values, or list elements
	text  string   // string value, or number text
	b     bool
}

type jkind int

const (
	kNull jkind = iota
	kObject
	kList
	kString
	kNumber
	kBool
)

func (n *jnode) describe() string {
	switch n.kind {
	case kObject:
		return "a mapping"
	case kList:
		return "a list"
	case kString:
		return fmt.Sprintf("the string %q", n.text)
	case kNumber:
		return "the number " + n.text
	case kBool:
		return fmt.Sprintf("the boolean %t", n.b)
	}
	return "null"
}

// parseJSON parses one JSON value within the limits l (but MaxBytes, which
// decode checks). With lines, object keys carry their line, and a
// duplicate key is an error that names both lines.
func parseJSON(data []byte, lines bool, l Limits) (*jnode, error) {
	p := &jparser{dec: json.NewDecoder(bytes.NewReader(data)), data: data, lines: lines, lim: l}
	p.dec.UseNumber()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.where(err)
	}
	root, err := p.parse(tok, 0, nil, shTop)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: unexpected data after the package", p.lineAt(p.dec.InputOffset()))
	}
	return root, nil
}

// jparser holds the state of parseJSON.
type jparser struct {
	dec     *json.Decoder
	data    []byte
	lines   bool
	lim     Limits
	targets int // actors named in targets so far
	// The line at lineOff: lines are counted from the last offset asked
	// for, since offsets mostly grow, so that a line costs what lies
	// between two keys rather than the whole document before it.
	lineOff, line int
}

func (p *jparser) lineAt(offset int64) int {
	if !p.lines {
		return 0
	}
	off := min(int(offset), len(p.data))
	if off < p.lineOff {
		p.lineOff, p.line = 0, 0
	}
	p.line += bytes.Count(p.data[p.lineOff:off], []byte("\n"))
	p.lineOff = off
	return p.line + 1
}

func (p *jparser) where(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) && p.lines {
		line := p.lineAt(se.Offset)
		col := int(se.Offset) - bytes.LastIndexByte(p.data[:min(int(se.Offset), len(p.data))], '\n')
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		if p.lines {
			return fmt.Errorf("line %d: unexpected end of input", p.lineAt(int64(len(p.data))))
		}
		return errors.New("unexpected end of input")
	}
	return err
}

// over returns the *LimitError for limit, at the current offset.
func (p *jparser) over(limit string, max int, at *loc, what string, args ...any) error {
	return &LimitError{Limit: limit, Max: max, Path: at.String(), Line: p.lineAt(p.dec.InputOffset()), What: fmt.Sprintf(what, args...)}
}

// loc is the field path of a value, made into a string only for an error.
type loc struct {
	parent *loc
	key    string
	elem   bool // a list element, at index
	index  int
}

func (l *loc) String() string {
	if l == nil {
		return "package"
	}
	var parts []*loc
	for ; l != nil; l = l.parent {
		parts = append(parts, l)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		switch l := parts[i]; {
		case l.elem:
			fmt.Fprintf(&b, "[%d]", l.index)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(keyText(l.key))
		}
	}
	return b.String()
}

// keyText writes a key in a path: as it is, or "" when it is empty.
func keyText(key string) string {
	if key == "" {
		return `""`
	}
	return key
}

// shape is where a value sits in a package, as far as the limits on
// counts care.
type shape int

const (
	shOther shape = iota
	shTop
	shUpdates // the list
	shUpdate  // an entry of it
	shTargets
	shActors
	shLabels
	shGroups
	shOrder
)

// field returns the shape of the value of key in a mapping of shape s.
func (s shape) field(key string) shape {
	switch {
	case s == shTop && key == "updates":
		return shUpdates
	case s == shTop && key == "groups":
		return shGroups
	case s == shTop && key == "order":
		return shOrder
	case s == shUpdate && key == "targets":
		return shTargets
	case s == shTargets && key == "actors":
		return shActors
	case s == shTargets && key == "labels":
		return shLabels
	}
	return shOther
}

// elem returns the shape of an element of a list of shape s.
func (s shape) elem() shape {
	if s == shUpdates {
		return shUpdate
	}
	return shOther
}

// listLimit returns the limit on the length of a list of shape s.
func (p *jparser) listLimit(s shape) (string, int) {
	switch s {
	case shUpdates:
		return "MaxUpdates", p.lim.MaxUpdates
	case shGroups:
		return "MaxGroups", p.lim.MaxGroups
	case shOrder:
		return "MaxOrder", p.lim.MaxOrder
	case shActors:
		return "MaxTargets", p.lim.MaxTargets
	}
	return "MaxList", p.lim.MaxList
}

// parse reads the value that starts with tok, at depth depth (the number
// of lists and mappings around it), at path at, of shape s.
func (p *jparser) parse(tok json.Token, depth int, at *loc, s shape) (*jnode, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > p.lim.MaxDepth {
			return nil, p.over("MaxDepth", p.lim.MaxDepth, at, "lists and mappings nested more than %d deep", p.lim.MaxDepth)
		}
		if t == '[' {
			return p.list(depth+1, at, s)
		}
		return p.object(depth+1, at, s)
	case string:
		if len(t) > p.lim.MaxString {
			return nil, p.over("MaxString", p.lim.MaxString, at, "a string of more than %d bytes", p.lim.MaxString)
		}
		return &jnode{kind: kString, text: t}, nil
	case json.Number:
		if len(t) > p.lim.MaxString {
			return nil, p.over("MaxString", p.lim.MaxString, at, "a number of more than %d digits", p.lim.MaxString)
		}
		return &jnode{kind: kNumber, text: string(t)}, nil
	case bool:
		return &jnode{kind: kBool, b: t}, nil
	}
	return &jnode{kind: kNull}, nil
}

func (p *jparser) list(depth int, at *loc, s shape) (*jnode, error) {
	name, max := p.listLimit(s)
	n := &jnode{kind: kList}
	for p.dec.More() {
		if s == shActors {
			if p.targets++; p.targets > p.lim.MaxTargets {
				return nil, p.over("MaxTargets", p.lim.MaxTargets, at, "more than %d actors named in targets", p.lim.MaxTargets)
			}
		}
		if len(n.vals) == max {
			return nil, p.over(name, max, at, "more than %d entries", max)
		}
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.where(err)
		}
		v, err := p.parse(tok, depth, &loc{parent: at, elem: true, index: len(n.vals)}, s.elem())
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.where(err)
	}
	return n, nil
}

func (p *jparser) object(depth int, at *loc, s shape) (*jnode, error) {
	name, max := "MaxList", p.lim.MaxList
	if s == shLabels {
		name, max = "MaxLabels", p.lim.MaxLabels
	}
	n := &jnode{kind: kObject}
	seen := map[string]int{}
	for p.dec.More() {
		if len(n.keys) == max {
			return nil, p.over(name, max, at, "more than %d keys", max)
		}
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.where(err)
		}
		key := tok.(string) // the decoder checks that keys are strings
		if len(key) > p.lim.MaxString {
			return nil, p.over("MaxString", p.lim.MaxString, at, "a key of more than %d bytes", p.lim.MaxString)
		}
		line := p.lineAt(p.dec.InputOffset())
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: key %q is already set at line %d", line, key, n.lines[first])
		}
		seen[key] = len(n.keys)
		if tok, err = p.dec.Token(); err != nil {
			return nil, p.where(err)
		}
		v, err := p.parse(tok, depth, &loc{parent: at, key: key}, s.field(key))
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.lines = append(n.lines, line)
		n.vals = append(n.vals, v)
	}
	if _, err := p.dec.Token(); err != nil {
		return nil, p.where(err)
	}
	return n, nil
}

var durationType = reflect.TypeFor[Duration]()

// check compares a parsed value with the Go type it will be decoded into,
// and reports every mismatch with its path.
func check(ps *problems, n *jnode, t reflect.Type, path string, yamlMode bool) {
	at := path
	if at == "" {
		at = "package"
	}
	if n.kind == kNull {
		return // leaves the zero value
	}
	if t == durationType {
		if n.kind != kString {
			ps.add(at, "want a duration string with a unit, such as \"2s\" or \"250ms\"; got %s", n.describe())
		} else if _, err := parseDuration(n.text); err != nil {
			ps.add(at, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		check(ps, n, t.Elem(), path, yamlMode)
	case reflect.Struct:
		if n.kind != kObject {
			ps.add(at, "want a mapping of keys, got %s", n.describe())
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		index := map[string]int{}
		for i, k := range n.keys {
			index[k] = i
		}
		// Known keys in the order of the fields, then unknown keys.
		for _, name := range names {
			i, ok := index[name]
			if !ok {
				continue
			}
			kp := join(path, name)
			before := len(*ps)
			check(ps, n.vals[i], fields[name], kp, yamlMode)
			for j := before; j < len(*ps); j++ {
				if (*ps)[j].Line == 0 {
					(*ps)[j].Line = n.lines[i]
				}
			}
		}
		sorted := slices.Sorted(maps.Keys(fields))
		for i, k := range n.keys {
			if _, ok := fields[k]; ok {
				continue
			}
			if k == "" {
				*ps = append(*ps, Problem{Path: at, Message: "an empty key (\"\"); the keys here are " + strings.Join(sorted, ", "), Line: n.lines[i]})
				continue
			}
			msg := "unknown key; the keys here are " + strings.Join(sorted, ", ")
			for _, name := range sorted {
				if strings.EqualFold(name, k) {
					msg = fmt.Sprintf("unknown key; did you mean %q? (keys are case-sensitive)", name)
				}
			}
			*ps = append(*ps, Problem{Path: join(path, k), Message: msg, Line: n.lines[i]})
		}
	case reflect.Map:
		if n.kind != kObject {
			ps.add(at, "want a mapping of keys, got %s", n.describe())
			return
		}
		for i, k := range n.keys {
			before := len(*ps)
			check(ps, n.vals[i], t.Elem(), join(path, k), yamlMode)
			for j := before; j < len(*ps); j++ {
				if (*ps)[j].Line == 0 {
					(*ps)[j].Line = n.lines[i]
				}
			}
		}
	case reflect.Slice:
		if n.kind != kList {
			ps.add(at, "want a list, got %s", n.describe())
			return
		}
		for i, v := range n.vals {
			check(ps, v, t.Elem(), fmt.Sprintf("%s[%d]", at, i), yamlMode)
		}
	case reflect.String:
		switch {
		case n.kind == kString:
		case yamlMode && (n.kind == kNumber || n.kind == kBool):
			// YAML 1.1 reads 01 as 1 and yes as true: taking the text
			// back would change it, so ask for quotes.
			ps.add(at, "want a string, got %s; quote it", n.describe())
		default:
			ps.add(at, "want a string, got %s", n.describe())
		}
	case reflect.Bool:
		if n.kind != kBool {
			ps.add(at, "want true or false, got %s", n.describe())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != kNumber {
			ps.add(at, "want a whole number, got %s", n.describe())
		} else if _, err := strconv.ParseInt(n.text, 10, t.Bits()); err != nil {
			ps.add(at, "want a whole number, got %s", n.describe())
		}
	case reflect.Uint32: // versions
		if n.kind != kNumber {
			ps.add(at, "want a version number (1, 2, ...), got %s", n.describe())
		} else if _, err := strconv.ParseUint(n.text, 10, 32); err != nil {
			limit := ""
			if !strings.HasPrefix(n.text, "-") {
				limit = fmt.Sprintf(" up to %d", uint32(1<<32-1))
			}
			ps.add(at, "want a version number (1, 2, ...%s), got %s", limit, n.describe())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint64:
		if n.kind != kNumber {
			ps.add(at, "want a whole number from 0 up, got %s", n.describe())
		} else if _, err := strconv.ParseUint(n.text, 10, t.Bits()); err != nil {
			ps.add(at, "want a whole number from 0 up, got %s", n.describe())
		}
	default:
		// No rule (the package types use none other): the JSON decoder
		// checks the value.
	}
}

func join(path, key string) string {
	if path == "" {
		return keyText(key)
	}
	return path + "." + keyText(key)
}
