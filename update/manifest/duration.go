package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// MarshalJSON writes d as a Go duration string such as "250ms" or "1m30s".
// YAML uses the same method (packages are converted through JSON).
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON reads a Go duration string ("250ms", "2s", "1m30s"; see
// time.ParseDuration). A number is rejected: a bare 2 could mean seconds or
// nanoseconds, so a package must say which. JSON null leaves d unchanged.
func (d *Duration) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("a duration is a string with a unit, such as \"2s\" or \"250ms\"; got %s", data)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// parseDuration parses a duration string with a message that says what a
// duration looks like.
func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit, such as \"2s\", \"250ms\" or \"1m30s\"", s)
	}
	return v, nil
}
