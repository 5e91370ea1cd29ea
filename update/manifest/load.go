package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
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

// LoadFile reads a package from a file, in the format its extension names
// (see FormatOf). Errors start with the path.
func LoadFile(path string) (*Package, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	p, err := decode(data, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
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
// Load does not validate the package's content (required fields, ranges,
// references between fields) and does not fill defaults: call Validate, or
// Build, which validates.
func Load(r io.Reader, f Format) (*Package, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("manifest: reading the package: %w", err)
	}
	return decode(data, f)
}

func decode(data []byte, f Format) (*Package, error) {
	var (
		root *jnode
		err  error
		src  = data // the JSON text to decode
	)
	switch f {
	case FormatJSON:
		root, err = parseJSON(data, true)
		if err != nil {
			return nil, fmt.Errorf("manifest: JSON: %w", err)
		}
	case FormatYAML:
		if line := secondDocument(data); line > 0 {
			return nil, fmt.Errorf("manifest: YAML: line %d: a second document; a package file holds one", line)
		}
		j, yerr := yaml.YAMLToJSONStrict(data)
		if yerr != nil {
			return nil, fmt.Errorf("manifest: YAML: %w", yerr)
		}
		src = j
		root, err = parseJSON(j, false)
		if err != nil { // not expected: the converter writes valid JSON
			return nil, fmt.Errorf("manifest: YAML: %w", err)
		}
	default:
		return nil, fmt.Errorf("manifest: unknown format %q; use manifest.FormatYAML or manifest.FormatJSON", f)
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

// parseJSON parses one JSON value. With lines, object keys carry their
// line and a duplicate key is an error that names both lines.
func parseJSON(data []byte, lines bool) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func(offset int64) int {
		if !lines {
			return 0
		}
		return 1 + bytes.Count(data[:min(int(offset), len(data))], []byte("\n"))
	}
	where := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) && lines {
			line := lineAt(se.Offset)
			col := int(se.Offset) - bytes.LastIndexByte(data[:min(int(se.Offset), len(data))], '\n')
			return fmt.Errorf("line %d, column %d: %w", line, col, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			if lines {
				return fmt.Errorf("line %d: unexpected end of input", lineAt(int64(len(data))))
			}
			return errors.New("unexpected end of input")
		}
		return err
	}
	var parse func(tok json.Token) (*jnode, error)
	parse = func(tok json.Token) (*jnode, error) {
		switch t := tok.(type) {
		case json.Delim:
			if t == '[' {
				n := &jnode{kind: kList}
				for dec.More() {
					tok, err := dec.Token()
					if err != nil {
						return nil, where(err)
					}
					v, err := parse(tok)
					if err != nil {
						return nil, err
					}
					n.vals = append(n.vals, v)
				}
				if _, err := dec.Token(); err != nil {
					return nil, where(err)
				}
				return n, nil
			}
			n := &jnode{kind: kObject}
			seen := map[string]int{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return nil, where(err)
				}
				key := tok.(string) // the decoder checks that keys are strings
				line := lineAt(dec.InputOffset())
				if first, dup := seen[key]; dup {
					return nil, fmt.Errorf("line %d: key %q is already set at line %d", line, key, n.lines[first])
				}
				seen[key] = len(n.keys)
				if tok, err = dec.Token(); err != nil {
					return nil, where(err)
				}
				v, err := parse(tok)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.lines = append(n.lines, line)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, where(err)
			}
			return n, nil
		case string:
			return &jnode{kind: kString, text: t}, nil
		case json.Number:
			return &jnode{kind: kNumber, text: string(t)}, nil
		case bool:
			return &jnode{kind: kBool, b: t}, nil
		}
		return &jnode{kind: kNull}, nil
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, where(err)
	}
	root, err := parse(tok)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: unexpected data after the package", lineAt(dec.InputOffset()))
	}
	return root, nil
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
		return key
	}
	return path + "." + key
}
