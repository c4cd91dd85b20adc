#!/usr/bin/env bash
# make compat, part 3: the fixed client scenario with go-redis, node-redis,
# ioredis and redis-py, RESP2 and RESP3, directly and through the proxy.
# Usage: clients.sh CACHE_DIR OUT_DIR. Writes OUT_DIR/results (RESULT
# lines) and one log per run. Expects $CACHE_DIR/bin/compat-env and
# compat-clients (built by compat.sh) and bin/keyway-proxy.
set -euo pipefail
cache=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$cache/bin
: >"$out/results"
log() { printf 'compat: %s\n' "$*" >&2; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

# --- the libraries: Debian's python3-redis, npm's redis and ioredis --------
if ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then
  log "installing python3-redis"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-redis >/dev/null \
    || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-redis >/dev/null; } \
    || log "python3-redis did not install"
fi
node_dir=$cache/node
if [ ! -d "$node_dir/node_modules/redis" ] || [ ! -d "$node_dir/node_modules/ioredis" ]; then
  if command -v npm >/dev/null 2>&1; then
    log "installing npm redis@6 and ioredis into $node_dir"
    mkdir -p "$node_dir"
    [ -f "$node_dir/package.json" ] || echo '{"private": true}' >"$node_dir/package.json"
    (cd "$node_dir" && timeout 300 npm install --no-audit --no-fund --silent redis@6 ioredis@latest >&2) \
      || log "npm install failed"
  fi
fi
export COMPAT_NODE_MODULES=$node_dir/node_modules

# skip CLIENT PROTOCOL TARGET REASON: a run that cannot happen here.
skip() { echo "RESULT $1 RESP$2 $3 connect SKIP $4" >>"$out/results"; }

# run CLIENT PROTOCOL TARGET ADDRS [cluster]: one scenario, bounded.
run() {
  local client=$1 proto=$2 target=$3 addrs=$4 mode=${5:-}
  local logf=$out/$client-$proto-$target.log
  local cmd=()
  case "$client" in
    go-redis) cmd=("$bin/compat-clients" -protocol "$proto" -target "$target" -addrs "$addrs")
              [ -n "$mode" ] && cmd+=(-cluster) ;;
    node-redis|ioredis)
      if ! command -v node >/dev/null 2>&1 || [ ! -d "$COMPAT_NODE_MODULES/$([ "$client" = ioredis ] && echo ioredis || echo redis)" ]; then
        skip "$client" "$proto" "$target" "not installed (node/npm)"; return
      fi
      cmd=(node "$root/scripts/compat/clients.mjs" "$client" "$proto" "$target" "$addrs" $mode) ;;
    redis-py)
      if ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then
        skip "$client" "$proto" "$target" "python3-redis not installed"; return
      fi
      cmd=(/usr/bin/python3 "$root/scripts/compat/clients.py" "$proto" "$target" "$addrs" $mode) ;;
  esac
  set +e
  timeout -k 5 120 "${cmd[@]}" >"$logf" 2>&1
  local rc=$?
  set -e
  grep '^RESULT ' "$logf" >>"$out/results" || true
  if [ $rc -ne 0 ]; then
    local name=$client
    [ "$client" = redis-py ] && [ -n "$mode" ] && name=redis-py-cluster
    echo "RESULT $name RESP$proto $target harness FAIL exit $rc: $(grep -v '^RESULT ' "$logf" | tail -2 | tr '\n' ' ')" >>"$out/results"
  fi
}

# --- one environment for every run ------------------------------------------
dir=$out/env
rm -rf "$dir" && mkdir -p "$dir"
"$bin/compat-env" -config clients -proxy-bin "${COMPAT_PROXY_BIN:-$root/bin/keyway-proxy}" -dir "$dir/servers" \
  -out "$dir/env" -lifetime 20m >"$dir/env.log" 2>&1 &
env_pid=$!
cleanup() {
  kill -TERM "$env_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$env_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$env_pid" 2>/dev/null || true
  wait "$env_pid" 2>/dev/null || true
  local p cwd
  for p in $(pgrep -x redis-server 2>/dev/null || true); do
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null || true)
    case "$cwd" in "$dir"/*) kill -KILL "$p" 2>/dev/null || true ;; esac
  done
}
trap cleanup EXIT
for _ in $(seq 1200); do
  [ -f "$dir/env" ] && break
  kill -0 "$env_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -f "$dir/env" ]; then
  log "client servers did not start: $(tail -3 "$dir/env.log" | tr '\n' ' ')"
  exit 1
fi
DIRECT="" PROXY="" CLUSTER_NODES="" PROXY_EMU="" PROXY_CLUSTER=""
# shellcheck disable=SC1091
. "$dir/env"

for client in go-redis node-redis ioredis redis-py; do
  for proto in 2 3; do
    log "clients: $client RESP$proto"
    run "$client" "$proto" direct "$DIRECT"
    run "$client" "$proto" proxy "$PROXY"
    run "$client" "$proto" proxy-cluster "$PROXY_CLUSTER"
    run "$client" "$proto" direct-cluster "$CLUSTER_NODES" cluster
    run "$client" "$proto" proxy-cluster-emu "$PROXY_EMU" cluster
  done
done

# A JVM client only if Debian ships one (Maven Central is not used here).
jvm=$(apt-cache pkgnames 2>/dev/null | grep -E '^(lib)?(jedis|lettuce)' | head -1 || true)
if [ -n "$jvm" ]; then
  reason="Debian ships $jvm, but no JVM scenario is written yet"
else
  reason="Debian ships no Jedis or Lettuce package (apt-cache search jedis lettuce is empty) and Maven Central is not used"
fi
for proto in 2 3; do
  echo "RESULT jvm RESP$proto all connect SKIP $reason" >>"$out/results"
done
log "clients: JVM skipped: $reason"
