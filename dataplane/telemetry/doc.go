// Package telemetry counts what the proxy does, per workload domain: a
// Recorder the server calls once per answered request, Prometheus text for
// /metrics, approximate hot keys, and a Reporter that streams interval
// summaries to the control plane.
//
// The Recorder sits on the data path, so Observe takes no global lock and
// does not allocate once a (domain, track, command, upstream) series
// exists: counters are sharded atomics and the series lookup reads an
// immutable map through an atomic pointer. Counters only ever grow; the
// Reporter computes interval deltas from cumulative snapshots, so a report
// that cannot be sent is folded into the next one without losing counts.
package telemetry
