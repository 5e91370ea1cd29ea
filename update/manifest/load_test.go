package manifest_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
	"sigs.k8s.io/yaml"
)

// The YAML and JSON example packages decode to the same value, the one
// bankPackage writes in Go.
func TestLoadYAMLAndJSONAgree(t *testing.T) {
	fromYAML, err := manifest.LoadFile("testdata/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := manifest.LoadFile("testdata/bank.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("YAML and JSON differ:\nYAML %+v\nJSON %+v", fromYAML, fromJSON)
	}
	if want := bankPackage(); !reflect.DeepEqual(fromYAML, want) {
		t.Errorf("testdata/bank.yaml:\n got %+v\nwant %+v", fromYAML, want)
	}
	if err := manifest.Validate(fromYAML); err != nil {
		t.Errorf("the example package is not valid: %v", err)
	}
}

// A package written out (JSON or YAML) and loaded back is the same package.
func TestLoadRoundTrip(t *testing.T) {
	want := bankPackage()
	j, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for f, data := range map[manifest.Format][]byte{manifest.FormatJSON: j, manifest.FormatYAML: y} {
		got, err := manifest.Load(strings.NewReader(string(data)), f)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", f, got, want)
		}
	}
}

// Unknown keys are errors, with their paths, all at once; keys are
// case-sensitive, and a near miss gets a suggestion.
func TestLoadRejectsUnknownKeys(t *testing.T) {
	yamlDoc := `
id: p
updates:
  - kind: account
    to: 2
    targets: {actors: [a], everything: true}
    Kind: account
rollout: {stratgy: rolling}
probation: {messages: 3, window: 1s}
owner: ops
`
	_, err := manifest.Load(strings.NewReader(yamlDoc), manifest.FormatYAML)
	wantProblems(t, problemsOf(t, err),
		"updates[0].targets.everything: unknown key; the keys here are actors, all, labels",
		`updates[0].Kind: did you mean "kind"?`,
		"rollout.stratgy: unknown key",
		"probation.window: unknown key",
		"owner: unknown key")

	jsonDoc := `{
  "id": "p",
  "updates": [{"kind": "account", "to": 2, "targets": {"all": true},
               "version": 2}],
  "Rollout": {}
}`
	_, err = manifest.Load(strings.NewReader(jsonDoc), manifest.FormatJSON)
	wantProblems(t, problemsOf(t, err),
		"line 4: updates[0].version: unknown key",
		`line 5: Rollout: did you mean "rollout"?`)
}

// Values of the wrong type are reported with their paths (and lines in
// JSON), all at once.
func TestLoadRejectsWrongTypes(t *testing.T) {
	yamlDoc := `
id: [p]
updates:
  - kind: account
    from: 1
    to: -2
    targets: {actors: acct-1, all: "yes"}
quiescence: {perActor: 2, package: 2 minutes}
rollout: {maxInFlight: 1.5, canaries: few}
`
	_, err := manifest.Load(strings.NewReader(yamlDoc), manifest.FormatYAML)
	wantProblems(t, problemsOf(t, err),
		"id: want a string, got a list",
		"updates[0].from: want a list, got the number 1",
		"updates[0].to: want a version number (1, 2, ...), got the number -2",
		`updates[0].targets.actors: want a list, got the string "acct-1"`,
		`updates[0].targets.all: want true or false, got the string "yes"`,
		`quiescence.perActor: want a duration string with a unit, such as "2s" or "250ms"; got the number 2`,
		`quiescence.package: "2 minutes" is not a duration`,
		"rollout.maxInFlight: want a whole number, got the number 1.5",
		`rollout.canaries: want a whole number, got the string "few"`)

	jsonDoc := `{
  "id": "p",
  "updates": [{"kind": 7,
               "to": 4294967296,
               "targets": {"all": true}}]
}`
	_, err = manifest.Load(strings.NewReader(jsonDoc), manifest.FormatJSON)
	wantProblems(t, problemsOf(t, err),
		"line 3: updates[0].kind: want a string, got the number 7",
		"line 4: updates[0].to: want a version number (1, 2, ... up to 4294967295)")
}

// In YAML, a number or boolean given where a string is wanted is an error
// that asks for quotes: YAML 1.1 has already turned 01 into 1 and yes into
// true, so its text would not be what the file says.
func TestLoadYAMLScalarsNeedQuotes(t *testing.T) {
	_, err := manifest.Load(strings.NewReader(`
id: 2024
updates: [{kind: account, to: 2, targets: {all: true, labels: {zone: 01, canary: yes}}}]
`), manifest.FormatYAML)
	wantProblems(t, problemsOf(t, err),
		"id: want a string, got the number 2024; quote it",
		"updates[0].targets.labels.canary: want a string, got the boolean true; quote it",
		"updates[0].targets.labels.zone: want a string, got the number 1; quote it")

	p, err := manifest.Load(strings.NewReader(`
id: "2024"
updates: [{kind: account, to: 2, targets: {all: true, labels: {zone: "01", canary: "yes"}}}]
`), manifest.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"zone": "01", "canary": "yes"}
	if p.ID != "2024" || !reflect.DeepEqual(p.Updates[0].Targets.Labels, want) {
		t.Errorf("got id %q, labels %v; want \"2024\", %v", p.ID, p.Updates[0].Targets.Labels, want)
	}
	_, err = manifest.Load(strings.NewReader(`{"id": 2024}`), manifest.FormatJSON)
	wantProblems(t, problemsOf(t, err), "line 1: id: want a string, got the number 2024")
}

// A YAML file holds one document; a leading "---" is fine.
func TestLoadYAMLOneDocument(t *testing.T) {
	_, err := manifest.Load(strings.NewReader("# p\n---\nid: a\n---\nid: b\n"), manifest.FormatYAML)
	if err == nil || !strings.Contains(err.Error(), "line 4: a second document") {
		t.Errorf("two documents: got %v, want an error at line 4", err)
	}
	p, err := manifest.Load(strings.NewReader("%YAML 1.1\n--- # the package\nid: a\ndescription: |\n  ---\n  not a marker\n"), manifest.FormatYAML)
	if err != nil || p.ID != "a" || p.Description != "---\nnot a marker\n" {
		t.Errorf("one document: got %+v, %v", p, err)
	}
}

// Syntax errors and duplicate keys name their line.
func TestLoadSyntaxErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct {
		name string
		f    manifest.Format
		doc  string
		want string
	}{
		{"yaml syntax", manifest.FormatYAML, "id: p\nupdates: [\n  kind: a\n", "line 3"},
		{"yaml indentation", manifest.FormatYAML, "id: p\n  kind: a\n", "line 2"},
		{"yaml duplicate key", manifest.FormatYAML, "id: p\nrollout: {}\nid: q\n", `line 3: key "id" already set`},
		{"json syntax", manifest.FormatJSON, "{\"id\": \"p\",\n \"updates\": [}\n", "line 2, column 14"},
		{"json duplicate key", manifest.FormatJSON, "{\"id\": \"p\",\n\n \"id\": \"q\"}", `line 3: key "id" is already set at line 1`},
		{"json truncated", manifest.FormatJSON, "{\"id\": \"p\",\n", "line 2: unexpected end of input"},
		{"json trailing data", manifest.FormatJSON, "{\"id\": \"p\"}\n{}", "line 2: unexpected data after the package"},
	} {
		_, err := manifest.Load(strings.NewReader(c.doc), c.f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// An empty document, or one that is not a mapping, is not a package.
func TestLoadEmpty(t *testing.T) {
	for _, c := range []struct {
		f   manifest.Format
		doc string
	}{{manifest.FormatYAML, ""}, {manifest.FormatYAML, "# nothing\n"}, {manifest.FormatJSON, "null"}} {
		_, err := manifest.Load(strings.NewReader(c.doc), c.f)
		wantProblems(t, problemsOf(t, err), "package: the package is empty")
	}
	_, err := manifest.Load(strings.NewReader("- id: p\n"), manifest.FormatYAML)
	wantProblems(t, problemsOf(t, err), "package: want a mapping of keys, got a list")
}

// LoadFile takes the format from the extension, and its errors start with
// the path.
func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "p.yml")
	if err := os.WriteFile(yml, []byte("id: p\nupdates: [{kind: a, to: 1, targets: {all: true}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := manifest.LoadFile(yml); err != nil || p.ID != "p" {
		t.Errorf("LoadFile(.yml) = %+v, %v", p, err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"id": "p", "idd": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.LoadFile(bad)
	var ve *manifest.ValidationError
	if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("LoadFile(bad.json): got %v, want a *ValidationError whose text starts with the path", err)
	}

	for _, name := range []string{"p.toml", "p"} {
		if _, err := manifest.LoadFile(filepath.Join(dir, name)); err == nil || !strings.Contains(err.Error(), ".yaml, .yml or .json") {
			t.Errorf("LoadFile(%s): got %v, want an error about the extension", name, err)
		}
	}
	if _, err := manifest.LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing.yaml): got %v, want os.ErrNotExist", err)
	}
	if _, err := manifest.Load(strings.NewReader("{}"), "toml"); err == nil {
		t.Error("Load with format toml: no error")
	}
}
