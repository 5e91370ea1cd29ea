package manifest_test

import (
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
)

// An empty key is named as empty, at the path of the mapping that holds it.
func TestLoadEmptyKey(t *testing.T) {
	_, err := manifest.Load(strings.NewReader(`{"": 1, "rollout": {"": 2}}`), manifest.FormatJSON)
	wantProblems(t, problemsOf(t, err),
		"line 1: rollout: an empty key",
		"line 1: package: an empty key")
	_, err = manifest.Load(strings.NewReader("\"\": 1\nrollout: {\"\": 2}\n"), manifest.FormatYAML)
	wantProblems(t, problemsOf(t, err),
		"rollout: an empty key",
		"package: an empty key")
}

// A leading UTF-8 byte-order mark, as some editors write, is skipped.
func TestLoadByteOrderMark(t *testing.T) {
	const bom = "\ufeff"
	for f, doc := range map[manifest.Format]string{
		manifest.FormatJSON: `{"id": "p", "updates": [{"kind": "k", "to": 1, "targets": {"all": true}}]}`,
		manifest.FormatYAML: "id: p\nupdates: [{kind: k, to: 1, targets: {all: true}}]\n",
	} {
		p, err := manifest.Load(strings.NewReader(bom+doc), f)
		if err != nil || p.ID != "p" {
			t.Errorf("%s with a byte-order mark: got %+v, %v", f, p, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]manifest.Format{
		"yaml": manifest.FormatYAML, "YAML": manifest.FormatYAML, "yml": manifest.FormatYAML, "Yml": manifest.FormatYAML,
		"json": manifest.FormatJSON, "JSON": manifest.FormatJSON, "": manifest.FormatYAML,
	} {
		if got, err := manifest.ParseFormat(in); got != want || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"toml", "xml", " json", "jso", "application/json"} {
		got, err := manifest.ParseFormat(in)
		if err == nil || got != "" || !strings.Contains(err.Error(), `"yaml", "yml" or "json"`) {
			t.Errorf("ParseFormat(%q) = %q, %v; want an error that lists the formats", in, got, err)
		}
	}
	if _, err := manifest.Load(strings.NewReader("{}"), "yml"); err == nil || !strings.Contains(err.Error(), "ParseFormat") {
		t.Errorf("Load with the format yml: got %v, want an error that points to ParseFormat", err)
	}
}
