package manifest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manifest"
	"sigs.k8s.io/yaml"
)

// A Duration is written as a Go duration string and read back unchanged, in
// JSON and in YAML.
func TestDurationRoundTrip(t *testing.T) {
	type holder struct {
		D manifest.Duration `json:"d"`
	}
	for _, d := range []time.Duration{0, time.Nanosecond, 250 * time.Millisecond, 2 * time.Second, 90 * time.Second, 10 * time.Minute, -time.Second} {
		in := holder{manifest.Duration{Duration: d}}
		j, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"d":"` + d.String() + `"}`; string(j) != want {
			t.Errorf("json.Marshal(%v) = %s, want %s", d, j, want)
		}
		var out holder
		if err := json.Unmarshal(j, &out); err != nil || out != in {
			t.Errorf("JSON round trip of %v: got %v, %v", d, out.D, err)
		}

		y, err := yaml.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if want := "d: " + d.String() + "\n"; string(y) != want {
			t.Errorf("yaml.Marshal(%v) = %q, want %q", d, y, want)
		}
		out = holder{}
		if err := yaml.UnmarshalStrict(y, &out); err != nil || out != in {
			t.Errorf("YAML round trip of %v: got %v, %v", d, out.D, err)
		}
	}
}

// A number is not a duration: the error says what to write instead. So is a
// string that time.ParseDuration does not read.
func TestDurationRejects(t *testing.T) {
	for _, in := range []string{`2`, `2.5`, `true`, `"2"`, `"2 seconds"`, `""`, `{}`} {
		var d manifest.Duration
		err := json.Unmarshal([]byte(in), &d)
		if err == nil {
			t.Errorf("json.Unmarshal(%s) into a Duration: no error, got %v", in, d)
			continue
		}
		if !strings.Contains(err.Error(), `such as "2s"`) {
			t.Errorf("json.Unmarshal(%s): the error %q does not show a duration string", in, err)
		}
	}
	d := manifest.Duration{Duration: time.Second}
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || d.Duration != time.Second {
		t.Errorf("null: got %v, %v; want the Duration unchanged", d, err)
	}
}

// Durations in a package: omitted when zero, written as strings otherwise.
func TestDurationOmittedWhenZero(t *testing.T) {
	j, err := json.Marshal(manifest.Package{ID: "p", Quiescence: manifest.Quiescence{Package: ms(1500)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"p","updates":null,"quiescence":{"package":"1.5s"}}`; string(j) != want {
		t.Errorf("got %s, want %s", j, want)
	}
}
