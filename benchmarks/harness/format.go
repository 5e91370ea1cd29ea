package harness

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FormatBytes writes a size with binary units and no space: 512B, 1KB,
// 1.5MB, 64MB (1KB is 1024 bytes).
func FormatBytes(b float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for math.Abs(b) >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return sig3(b) + "B"
	}
	return trimFloat(b) + units[i]
}

// ParseBytes reads a size as FormatBytes writes it, case-insensitively; a
// bare number is bytes.
func ParseBytes(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > math.MaxInt32*1024.0 {
		return 0, fmt.Errorf("%q is not a size: write it as 512, 1KB, 1.5MB or 64MB", s)
	}
	return int(v * float64(mult)), nil
}

// FormatDuration writes nanoseconds with three significant digits: 930ns,
// 1.66µs, 338µs, 4.80ms, 1.20s.
func FormatDuration(ns float64) string {
	switch a := math.Abs(ns); {
	case a < 1e3:
		return sig3(ns) + "ns"
	case a < 1e6:
		return sig3(ns/1e3) + "µs"
	case a < 1e9:
		return sig3(ns/1e6) + "ms"
	}
	return sig3(ns/1e9) + "s"
}

// FormatCount writes a count or rate with an SI suffix: 950, 12.3k, 3.33M.
func FormatCount(v float64) string {
	switch a := math.Abs(v); {
	case a < 1e3:
		return trimFloat(v)
	case a < 1e6:
		return sig3(v/1e3) + "k"
	case a < 1e9:
		return sig3(v/1e6) + "M"
	}
	return sig3(v/1e9) + "G"
}

// sig3 writes v with three significant digits.
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// trimFloat writes v with at most two decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// FormatFigure writes a figure's value in the unit its name says: _ns a
// duration (cpu_ns_per_msg too), _ratio a factor, _per_s a rate (of bytes
// if the name mentions bytes), a name mentioning bytes a size, anything
// else a count (with an SI suffix from 1,000 up, three digits below).
func FormatFigure(name string, v float64) string {
	switch {
	case strings.HasSuffix(name, "_ns") || strings.Contains(name, "_ns_"):
		return FormatDuration(v)
	case strings.HasSuffix(name, "_ratio"):
		return strconv.FormatFloat(v, 'f', 2, 64) + "×"
	case strings.HasSuffix(name, "_per_s") && strings.Contains(name, "bytes"):
		return FormatBytes(v) + "/s"
	case strings.HasSuffix(name, "_per_s"):
		return FormatCount(v) + "/s"
	case strings.Contains(name, "bytes"):
		return FormatBytes(v)
	case v == math.Trunc(v) || math.Abs(v) >= 1000:
		return FormatCount(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// figureLabel turns a figure's name into words, without the units the
// value's format already shows.
func figureLabel(name string) string {
	for _, unit := range []string{"_ns", "_ratio", "_per_s"} {
		name = strings.TrimSuffix(name, unit)
	}
	name = strings.ReplaceAll(name, "_ns_", "_")
	return strings.ReplaceAll(name, "_", " ")
}

// formatLatency writes a latency column value, "-" for none.
func formatLatency(ns int64) string {
	return FormatDuration(float64(time.Duration(ns)))
}
