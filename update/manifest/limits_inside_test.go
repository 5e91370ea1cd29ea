package manifest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
)

// list writes n JSON values made by item, comma-separated.
func list(n int, item func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return strings.Join(parts, ",")
}

const update1 = `{"kind": "k", "to": 2, "targets": {"all": true}}`

// A package at each default limit loads; one more is refused with the
// limit's name. The documents are JSON, which is also YAML.
func TestLoadJustInsideEveryLimit(t *testing.T) {
	def := manifest.DefaultLimits()
	pkg := func(fields string) string { return `{"id": "p", "updates": [` + update1 + `]` + fields + `}` }
	for _, c := range []struct {
		limit string
		max   int
		doc   func(n int) string
		// shape: the document at the limit has problems of shape (not of
		// limits), since nothing of the package is that deep.
		shape bool
	}{
		{"MaxBytes", def.MaxBytes, func(n int) string {
			p := pkg("")
			return p + strings.Repeat(" ", n-len(p))
		}, false},
		{"MaxDepth", def.MaxDepth, func(n int) string {
			return `{"x": ` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
		}, true},
		{"MaxString", def.MaxString, func(n int) string { return pkg(`, "description": "` + strings.Repeat("d", n) + `"`) }, false},
		{"MaxUpdates", def.MaxUpdates, func(n int) string {
			return `{"id": "p", "updates": [` + list(n, func(i int) string { return fmt.Sprintf(`{"kind": "k%d", "to": 2}`, i) }) + `]}`
		}, false},
		{"MaxTargets", def.MaxTargets, func(n int) string {
			half := func(m int) string { return list(m, func(int) string { return `"a"` }) }
			return `{"id": "p", "updates": [{"kind": "k", "to": 2, "targets": {"actors": [` + half(n/2) +
				`]}}, {"kind": "l", "to": 2, "targets": {"actors": [` + half(n-n/2) + `]}}]}`
		}, false},
		{"MaxGroups", def.MaxGroups, func(n int) string {
			return pkg(`, "groups": [` + list(n, func(i int) string { return fmt.Sprintf(`{"name": "g%d"}`, i) }) + `]`)
		}, false},
		{"MaxOrder", def.MaxOrder, func(n int) string {
			return pkg(`, "order": [` + list(n, func(i int) string { return fmt.Sprintf(`{"name": "a%d"}`, i) }) + `]`)
		}, false},
		{"MaxLabels", def.MaxLabels, func(n int) string {
			return `{"id": "p", "updates": [{"kind": "k", "to": 2, "targets": {"all": true, "labels": {` +
				list(n, func(i int) string { return fmt.Sprintf(`"l%d": "v"`, i) }) + `}}}]}`
		}, false},
		{"MaxList", def.MaxList, func(n int) string {
			return `{"id": "p", "updates": [{"kind": "k", "to": 2, "from": [` + list(n, func(i int) string { return fmt.Sprint(i + 3) }) + `]}]}`
		}, false},
	} {
		for _, f := range []manifest.Format{manifest.FormatJSON, manifest.FormatYAML} {
			_, err := manifest.Load(strings.NewReader(c.doc(c.max)), f)
			var le *manifest.LimitError
			var ve *manifest.ValidationError
			switch {
			case errors.As(err, &le):
				t.Errorf("%s %s: at the limit: %v", c.limit, f, err)
			case c.shape && !errors.As(err, &ve):
				t.Errorf("%s %s: at the limit: got %v, want problems of shape only", c.limit, f, err)
			case !c.shape && err != nil:
				t.Errorf("%s %s: at the limit: %v", c.limit, f, err)
			}
			_, err = manifest.Load(strings.NewReader(c.doc(c.max+1)), f)
			if !errors.As(err, &le) || le.Limit != c.limit || le.Max != c.max {
				t.Errorf("%s %s: over the limit: got %v", c.limit, f, err)
			}
		}
	}
}

// Aliases that honest packages use load, up to MaxAliases of them.
func TestLoadYAMLAliases(t *testing.T) {
	doc := "id: p\nupdates:\n- kind: a\n  to: 2\n  targets: {all: true, labels: &eu {region: eu}}\n" +
		"- kind: b\n  to: 2\n  targets:\n    all: true\n    labels: *eu\n" +
		"- kind: c\n  to: 2\n  targets: &named\n    actors: [c-1, c-2]\n" +
		"groups: [{name: g, members: &pair [c-1, c-2]}]\n" +
		"order: [{name: c-2, after: [c-1]}]\n"
	p, err := manifest.Load(strings.NewReader(doc), manifest.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	if p.Updates[1].Targets.Labels["region"] != "eu" || len(p.Groups[0].Members) != 2 {
		t.Errorf("aliases: got %+v", p)
	}
	many := "id: &n p\nupdates: [{kind: k, to: 2, targets: {actors: [" + strings.Repeat("*n, ", manifest.DefaultLimits().MaxAliases) + "]}}]\n"
	if _, err := manifest.Load(strings.NewReader(many), manifest.FormatYAML); err != nil {
		t.Errorf("MaxAliases aliases: %v", err)
	}
}

// Limits are checked: a negative one is an error, zero is the default.
func TestLimitsNegative(t *testing.T) {
	_, err := manifest.LoadLimited(strings.NewReader("{}"), manifest.FormatJSON, manifest.Limits{MaxDepth: -1})
	if err == nil || !strings.Contains(err.Error(), "Limits.MaxDepth is -1") {
		t.Errorf("MaxDepth -1: got %v", err)
	}
}
