package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteTable writes results as readable tables, one per scenario: a row
// per case, with the latency percentiles if the scenario has any, then the
// case's other figures.
func WriteTable(w io.Writer, results ...*Result) error {
	for i, r := range results {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := writeTable(w, r); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, r *Result) error {
	if _, err := fmt.Fprintf(w, "%s (%.1fs): %s\n", r.Scenario, r.ElapsedS, r.Description); err != nil {
		return err
	}
	withLatency := false
	for _, c := range r.Cases {
		withLatency = withLatency || c.Latency != nil
	}
	rows := [][]string{{"case"}}
	if withLatency {
		rows[0] = append(rows[0], "n", "p50", "p90", "p99", "p99.9", "max")
	}
	rows[0] = append(rows[0], "")
	for _, c := range r.Cases {
		row := []string{c.Name}
		if withLatency {
			if l := c.Latency; l != nil {
				row = append(row, FormatCount(float64(l.Count)), formatLatency(l.P50Ns), formatLatency(l.P90Ns),
					formatLatency(l.P99Ns), formatLatency(l.P999Ns), formatLatency(l.MaxNs))
			} else {
				row = append(row, "-", "-", "-", "-", "-", "-")
			}
		}
		figures := make([]string, len(c.Figures))
		for i, f := range c.Figures {
			figures[i] = figureLabel(f.Name) + " " + FormatFigure(f.Name, f.Value)
		}
		rows = append(rows, append(row, strings.Join(figures, ", ")))
	}
	// The case name is left-aligned, the percentiles right-aligned, the
	// figures follow as they are.
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			switch {
			case i == 0:
				b.WriteString(cell + pad)
			case i == len(row)-1:
				b.WriteString("  " + cell)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "  note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// JSONStream writes results as one JSON array, one object per scenario on
// a line of its own, as they come: the output is valid JSON once Close has
// been called.
type JSONStream struct {
	w       io.Writer
	started bool
}

// NewJSONStream returns a stream writing to w.
func NewJSONStream(w io.Writer) *JSONStream { return &JSONStream{w: w} }

// Write appends one result to the array.
func (s *JSONStream) Write(r *Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("harness: encoding the result of %s: %w", r.Scenario, err)
	}
	sep := ",\n"
	if !s.started {
		sep, s.started = "[\n", true
	}
	_, err = fmt.Fprintf(s.w, "%s%s", sep, data)
	return err
}

// Close ends the array.
func (s *JSONStream) Close() error {
	end := "\n]\n"
	if !s.started {
		end, s.started = "[]\n", true
	}
	_, err := io.WriteString(s.w, end)
	return err
}

// WriteJSON writes results as one JSON array of one object per scenario,
// as JSONStream does.
func WriteJSON(w io.Writer, results ...*Result) error {
	s := NewJSONStream(w)
	for _, r := range results {
		if err := s.Write(r); err != nil {
			return err
		}
	}
	return s.Close()
}
