package top

import (
	"fmt"
	"time"
)

// rate formats a per-second rate compactly: 0.4, 12, 3.1k, 2.0M.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// percent formats a ratio; "-" when there was no traffic.
func percent(r float64, requests uint64) string {
	if requests == 0 {
		return "-"
	}
	if r > 0 && r < 0.0001 {
		return "<0.01%"
	}
	return fmt.Sprintf("%.2f%%", r*100)
}

// latency formats seconds as µs, ms or s with three significant digits.
func latency(s float64, requests uint64) string {
	if requests == 0 {
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// bytesRate formats bytes per second in binary units.
func bytesRate(v float64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%.0fB/s", v)
	}
	div, exp := float64(unit), 0
	for n := v / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB/s", v/div, "KMGT"[exp])
}

// size formats bytes in binary units.
func size(v uint64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%dB", v)
	}
	div, exp := float64(unit), 0
	for n := float64(v) / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(v)/div, "KMGT"[exp])
}
