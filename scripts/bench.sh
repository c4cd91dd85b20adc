#!/usr/bin/env bash
# bench.sh: what `make bench` runs. Compares keyway-proxy (standalone,
# --upstream) with direct redis-server and twemproxy (Debian nutcracker)
# in one run on loopback, and prints ratios, latency, the proxy's CPU per
# request and the 5,000-connection storm figures. Then, on a 3-primary
# Redis Cluster it starts itself, compares keyway-proxy (--policy with a
# redis_cluster upstream, plain go-redis client) with go-redis's
# ClusterClient talking to the nodes: C1 MGET of 10 keys across slots, C2
# 16-deep pipelines across slots, C3 single GET/SET. Results (JSON) and
# every server's log land in $OUT (default /tmp/keyway-bench-DATE).
#
#   make bench                         # full run, 3 repetitions, ~7 minutes
#   BENCH_ARGS=--quick make bench      # smoke run, under two minutes
#   BENCH_ARGS='--workloads W1,W2 --reps 5' make bench
#   BENCH_ARGS='--workloads C1,C2' make bench   # the cluster workloads only
#   NEARCACHE_ARGS=skip make bench     # without the near cache run at the end
#   bin/keyway-bench -h                # every flag
#
# Profiles of the proxy under W1 and W2 (the proxy must serve
# /debug/pprof on its admin listener):
#   BENCH_ARGS="--workloads W0 --reps 1 --profile /tmp/kwprof --proxy-args=--pprof" make bench
#   go tool pprof -top bin/keyway-proxy /tmp/kwprof/keyway-proxy-W1-GET.pprof
#
# Cross-check with the reference harness, which measures the same from
# outside with redis-benchmark (same pinning: load on cpu0, redis and the
# proxy on cpu1):
#   PROXY_CMD='bin/keyway-proxy --listen {listen} --upstream {upstream} --admin 127.0.0.1:0' \
#     /work/shared/bench/bench.sh --quick
# Compare ratios (x direct, x twem) and proxy CPU s/M (= µs per request),
# not absolute ops/s: the machine is shared and absolute numbers drift.
set -euo pipefail
cd "$(dirname "$0")/.."

# deps.sh installs redis-cli too: the cluster workloads create their
# cluster with redis-cli --cluster create.
bash scripts/deps.sh --bench >/dev/null
export GOFLAGS=-buildvcs=false
mkdir -p bin
(cd dataplane && go build -o ../bin/keyway-proxy ./cmd/keyway-proxy)
(cd integration && go build -o ../bin/keyway-bench ./cmd/keyway-bench)

OUT=${OUT:-/tmp/keyway-bench-$(date +%Y%m%d-%H%M%S)}
# The storm holds 5,000 client sockets in the load generator and as many
# in the proxy under test.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
bin/keyway-bench --out "$OUT" ${BENCH_ARGS:-}
# The near cache: the same Zipf(0.99) load over 1M keys, 95 % GET, through
# keyway-proxy with and without a near_cache (docs/near-cache.md).
# NEARCACHE_ARGS=--requests=100000 shortens it; NEARCACHE_ARGS=skip
# leaves it out.
if [ "${NEARCACHE_ARGS:-}" != skip ]; then
	# shellcheck disable=SC2086 # NEARCACHE_ARGS is a list of flags
	bin/keyway-bench nearcache --out "$OUT/nearcache" ${NEARCACHE_ARGS:-}
fi
