// Package crossplane holds tests that run both planes' packages in one
// process: a proxy's telemetry reporter against the control plane's
// aggregator, replicas that lead rollouts on what proxies report. They
// live here because neither plane may import the other (planes_test.go
// in this module enforces that).
package crossplane
