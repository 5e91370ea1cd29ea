package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
	"sigs.k8s.io/yaml"
)

// fuzzLoad checks that Load never panics, returns a package or an error,
// and that Validate never panics on a package it returns.
func fuzzLoad(t *testing.T, doc []byte, f manifest.Format) {
	p, err := manifest.Load(bytes.NewReader(doc), f)
	if (p == nil) == (err == nil) {
		t.Fatalf("Load returned %v and %v: want a package or an error", p, err)
	}
	if p != nil {
		_ = manifest.Validate(p)
	}
}

// seeds are the packages of testdata and of the tests, in f's format.
func seeds(f *testing.F, format manifest.Format) {
	for _, path := range []string{"testdata/bank.yaml", "testdata/bank.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(path, string(format)) {
			f.Add(data)
		}
	}
	j, err := json.Marshal(bankPackage())
	if err != nil {
		f.Fatal(err)
	}
	y, err := yaml.Marshal(bankPackage())
	if err != nil {
		f.Fatal(err)
	}
	if format == manifest.FormatJSON {
		f.Add(j)
		f.Add([]byte(orderDoc(format, 3)))
		f.Add([]byte(`{"": 1, "rollout": {"": 2}}`))
		f.Add([]byte("\ufeff{\"id\": \"p\"}"))
		f.Add([]byte(`[[[[[[[[`))
		return
	}
	f.Add(y)
	f.Add([]byte(orderDoc(format, 3)))
	f.Add([]byte("id: &s x\ndescription: [*s, *s]\n"))
	f.Add([]byte("a0: &a0 [x, x]\na1: &a1 [*a0, *a0]\n"))
	f.Add([]byte("key: &a\n- x\n- y\nother: *a\n"))
	f.Add([]byte("id: p\ndescription: |\n  *not an alias\n  [\nupdates: []\n"))
	f.Add([]byte("- - - - x\n"))
	f.Add([]byte("%YAML 1.1\n--- # the package\nid: a\n"))
}

func FuzzLoadYAML(f *testing.F) {
	seeds(f, manifest.FormatYAML)
	f.Fuzz(func(t *testing.T, doc []byte) { fuzzLoad(t, doc, manifest.FormatYAML) })
}

func FuzzLoadJSON(f *testing.F) {
	seeds(f, manifest.FormatJSON)
	f.Fuzz(func(t *testing.T, doc []byte) { fuzzLoad(t, doc, manifest.FormatJSON) })
}
