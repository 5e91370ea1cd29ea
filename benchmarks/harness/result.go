package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Result is what one scenario measured: its parameters, the environment it
// ran in, and one Case per point it measured. It is what -json prints, one
// object per scenario, and what the table and the charts are made of.
type Result struct {
	// Scenario is the scenario's name, as -scenario selects it.
	Scenario string `json:"scenario"`
	// Description says in one sentence what the scenario measures.
	Description string `json:"description"`
	// Parameters are the settings the whole scenario ran with.
	Parameters Params `json:"parameters"`
	// Environment is the machine and build the scenario ran on.
	Environment *Environment `json:"environment,omitempty"`
	// ElapsedS is the scenario's wall-clock time in seconds, set-up and
	// warm-up included.
	ElapsedS float64 `json:"elapsed_s"`
	// Cases are the points measured, in the order they ran.
	Cases []*Case `json:"cases"`
	// Notes say how to read the figures, when the table alone may mislead.
	Notes []string `json:"notes,omitempty"`
}

// Case is one measured point of a scenario.
type Case struct {
	// Name identifies the case within its scenario, such as "1MB/codec".
	Name string `json:"name"`
	// Parameters are the case's own settings.
	Parameters Params `json:"parameters,omitempty"`
	// Latency is the distribution of the case's main duration, if it has
	// one: the update round trip, or the delivery gap for pause.
	Latency *Latency `json:"latency,omitempty"`
	// Figures are the case's other numbers, in a stable order. A name ends
	// with its unit: _ns, _bytes, _per_s, _ratio, or none for a count.
	Figures Figures `json:"figures,omitempty"`

	// recorder is the distribution behind Latency, for the charts; it is
	// not part of the JSON.
	recorder *Recorder
}

// Recorder returns the distribution behind c.Latency, or nil if the case
// has none (or was decoded from JSON).
func (c *Case) Recorder() *Recorder { return c.recorder }

// SetLatency sets the case's latency from r, and keeps r for the charts.
func (c *Case) SetLatency(r *Recorder) {
	c.recorder = r
	c.Latency = r.Summary()
}

// Figure returns the value of the named figure and whether the case has it.
func (c *Case) Figure(name string) (float64, bool) {
	for _, f := range c.Figures {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// Add appends a figure to the case.
func (c *Case) Add(name string, value float64) {
	c.Figures = append(c.Figures, Figure{Name: name, Value: value})
}

// Case returns the case of r with the given name, or nil.
func (r *Result) Case(name string) *Case {
	for _, c := range r.Cases {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Params are settings, as a JSON object.
type Params map[string]any

// Figure is one named number of a case.
type Figure struct {
	Name  string
	Value float64
}

// Figures is an ordered list of figures. It is a JSON object, name to value,
// in the list's order.
type Figures []Figure

// MarshalJSON writes the figures as one JSON object, in order.
func (fs Figures) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("figure %q: %w", f.Name, err)
		}
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads an object of figures, keeping the order of its keys.
func (fs *Figures) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("figures: want a JSON object, got %s", data)
	}
	var out Figures
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("figure %q: %w", name, err)
		}
		out = append(out, Figure{Name: name, Value: v})
	}
	*fs = out
	return nil
}

// seconds returns d in seconds, rounded to the millisecond.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
