// Package telemetry is the control plane's side of per-workload telemetry:
// it ingests the summaries every proxy streams over TelemetryService,
// merges them into fleet-wide sliding windows (the last minute and the
// last five minutes) per domain, command, track and node, and answers
// TelemetryQueryService for the admin API, `keyway top` and `keyway fleet`.
//
// Windows are kept as the reports themselves, stamped with the control
// plane's clock when they arrive, so proxies' clocks never matter. A node
// that stops reporting ages out: its counts leave the windows as they
// slide, and its connection gauges stop counting after StaleAfter.
package telemetry
