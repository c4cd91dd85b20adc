#!/usr/bin/env bash
# make compat: Redis 7.0.15's own Tcl suite and real client libraries,
# directly against Redis and through keyway-proxy. A measurement: it exits
# 0 however many tests fail through the proxy, non-zero only when the
# harness itself breaks (suite not fetched, a direct Redis not started,
# the report not written).
#
# Environment:
#   COMPAT_CONFIGS  Tcl configurations to run (default: all five below)
#   COMPAT_UNITS    Tcl units to run (default: the core list below)
#   COMPAT_CLIENTS  0 skips the client scenarios
#   COMPAT_TCL      0 skips the Tcl suite
#   COMPAT_UNIT_TIMEOUT  seconds one unit may take (default 300)
#   COMPAT_PROXY_BIN     the keyway-proxy to measure (default bin/keyway-proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=$root/.compat
mkdir -p "$cache"
out=$cache/run
bin=$cache/bin

all_configs="direct proxy direct-cluster proxy-cluster-emu proxy-cluster"
all_units="type/string type/incr type/list type/list-3 type/set type/zset type/hash type/stream type/stream-cgroups
 keyspace scan expire multi pubsub pubsubshard scripting functions info info-command protocol quit sort bitops
 bitfield geo hyperloglog dump other"
configs=${COMPAT_CONFIGS:-$all_configs}
units=${COMPAT_UNITS:-$all_units}
unit_timeout=${COMPAT_UNIT_TIMEOUT:-300}
tags="-slow -needs:debug"

log() { printf 'compat: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# --- processes this script starts, stopped on every exit ------------------
env_pid=""
env_dir=""
stop_env() {
  if [ -n "$env_pid" ]; then
    kill -TERM "$env_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$env_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$env_pid" 2>/dev/null || true
    wait "$env_pid" 2>/dev/null || true
    env_pid=""
  fi
  # Leftovers of an environment that died without cleaning up: the
  # redis-servers whose working directory is under its directory.
  if [ -n "$env_dir" ]; then
    local p cwd
    for p in $(pgrep -x redis-server 2>/dev/null || true); do
      cwd=$(readlink "/proc/$p/cwd" 2>/dev/null || true)
      case "$cwd" in "$env_dir"/*) kill -KILL "$p" 2>/dev/null || true ;; esac
    done
    env_dir=""
  fi
}
trap 'stop_env' EXIT
trap 'stop_env; exit 130' INT TERM

# start_env CONFIG DIR: starts compat-env and sources its address file.
# Returns non-zero when it did not come up within two minutes.
start_env() {
  local config=$1 dir=$2
  rm -rf "$dir" && mkdir -p "$dir"
  env_dir=$dir
  "$bin/compat-env" -config "$config" -proxy-bin "$proxy_bin" \
    -dir "$dir/servers" -out "$dir/env" -lifetime 20m >"$dir/env.log" 2>&1 &
  env_pid=$!
  local i
  for i in $(seq 1200); do
    if [ -f "$dir/env" ]; then
      TARGET="" TARGETS="" DIRECT="" PROXY="" CLUSTER_NODES="" PROXY_EMU="" PROXY_CLUSTER=""
      # shellcheck disable=SC1091
      . "$dir/env"
      return 0
    fi
    kill -0 "$env_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "$config: servers did not start: $(tail -3 "$dir/env.log" | tr '\n' ' ')"
  stop_env
  return 1
}

# --- 1. what the run needs ------------------------------------------------
suite=$(bash scripts/compat/fetch-suite.sh "$cache") || die "could not fetch Redis's Tcl suite"
[ -x "$suite/runtest" ] || die "no runtest in $suite"
mkdir -p "$bin"
(cd integration && go build -o "$bin/compat-env" ./cmd/compat-env && go build -o "$bin/compat-clients" ./cmd/compat-clients) \
  || die "could not build the compat helpers"
proxy_bin=${COMPAT_PROXY_BIN:-bin/keyway-proxy}
[ -x "$proxy_bin" ] || die "$proxy_bin missing: run make build"
proxy_bin=$(cd "$(dirname "$proxy_bin")" && pwd)/$(basename "$proxy_bin")
export COMPAT_PROXY_BIN=$proxy_bin
# COMPAT_KEEP=1 keeps the results of configurations not run this time.
[ "${COMPAT_KEEP:-0}" = 1 ] || rm -rf "$out"
mkdir -p "$out"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
harness_broken=0

# --- 2. Redis's Tcl suite ---------------------------------------------------
# flags CONFIG: the runtest options of a configuration.
flags() {
  case "$1" in
    direct-cluster|proxy-cluster-emu) echo "--cluster-mode" ;;
    *) echo "--singledb" ;;
  esac
}
if [ "${COMPAT_TCL:-1}" != 0 ]; then
  for config in $configs; do
    log "tcl: $config"
    for unit in $units; do
      name=${unit//\//-}
      dir=$out/tcl/$config/$name
      if ! start_env "$config" "$dir"; then
        echo "ENV-FAILED" >"$dir/result"
        case "$config" in direct*) harness_broken=1 ;; esac
        continue
      fi
      host=${TARGET%:*} port=${TARGET##*:}
      # One unit per runtest, each on fresh servers: a unit that breaks
      # the server (or the proxy) cannot fail the next one. --durable turns
      # an unexpected error inside a test into that test's failure instead
      # of ending the unit.
      # runtest's own test server listens on a port from --baseport-32
      # up; its free-port check misses a port another runtest holds on
      # 127.0.0.1, so the range is chosen here, and a runtest that did not
      # start is run again.
      for attempt in 1 2 3; do
        base=$(( $("$bin/compat-env" -free-port) + 32 ))
        set +e
        (cd "$suite" && TERM=dumb timeout -k 10 "$unit_timeout" ./runtest --host "$host" --port "$port" \
          $(flags "$config") --ignore-encoding --ignore-digest --durable --no-latency --baseport "$base" \
          --tags "$tags" --timeout 120 --single "unit/$unit") >"$dir/tcl.log" 2>&1
        rc=$?
        set -e
        grep -q '^\[ready\]' "$dir/tcl.log" && break
        log "$config $unit: runtest did not start (attempt $attempt): $(grep -m1 -i 'error\|couldn' "$dir/tcl.log" || true)"
        [ "$attempt" = 3 ] && harness_broken=1
      done
      echo "$rc" >"$dir/result"
      stop_env
      printf 'compat:   %-20s rc=%-3s ok=%-4s err=%s\n' "$unit" "$rc" \
        "$(grep -c '^\[ok\]' "$dir/tcl.log" || true)" "$(grep -c '^\[err\]\|^\[exception\]' "$dir/tcl.log" || true)" >&2
    done
  done
fi

# --- 3. client libraries ------------------------------------------------------
if [ "${COMPAT_CLIENTS:-1}" != 0 ]; then
  log "clients"
  if ! bash scripts/compat/clients.sh "$cache" "$out/clients"; then
    log "client scenarios: harness failed"
    harness_broken=1
  fi
fi

# --- 4. report ------------------------------------------------------------------
/usr/bin/python3 scripts/compat/report.py --out "$out" --started "$started" --proxy-bin "$proxy_bin" \
  --configs "$all_configs" --units "$units" >"$cache/results.txt" || die "could not write the report"
cat "$cache/results.txt"
log "full results in .compat/results.txt, logs under .compat/run/"
exit $((harness_broken * 2))
