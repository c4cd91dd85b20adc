#!/usr/bin/env bash
# make demo: the whole system on loopback. keyway-control (with embedded
# etcd), two redis-servers, one keyway-proxy, and the quickstart policy
# pushed through the CLI. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo="$root/.demo"
CONTROL=127.0.0.1:7700
PROXY=127.0.0.1:6380
ADMIN=127.0.0.1:9180
REDIS_PORTS=(6401 6402)

for addr in "$CONTROL" "$PROXY" "$ADMIN" "127.0.0.1:${REDIS_PORTS[0]}" "127.0.0.1:${REDIS_PORTS[1]}"; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
    echo "demo: $addr is already in use; stop whatever listens there (an earlier demo?) and retry" >&2
    exit 1
  fi
done

rm -rf "$demo"
mkdir -p "$demo"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: $what did not come up; logs are in $demo" >&2
  exit 1
}

for port in "${REDIS_PORTS[@]}"; do
  mkdir -p "$demo/redis-$port"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$demo/redis-$port" --logfile "$demo/redis-$port/redis.log" &
  pids+=($!)
  wait_for "redis-server :$port" redis-cli -p "$port" ping
done

bin/keyway-control --listen "$CONTROL" --data-dir "$demo/control" >"$demo/control.log" 2>&1 &
pids+=($!)
wait_for "keyway-control" bin/keyway policy history

bin/keyway-proxy --listen "$PROXY" --admin "$ADMIN" --control-plane "$CONTROL" \
  --node-id demo-proxy-1 --state-dir "$demo/proxy" >"$demo/proxy.log" 2>&1 &
pids+=($!)
wait_for "keyway-proxy" curl -fsS "http://$ADMIN/healthz"

bin/keyway policy push policies/examples/quickstart -m "quickstart policy"
wait_for "the policy to reach the proxy" curl -fsS "http://$ADMIN/readyz"

cat <<MSG

Keyway is running.
  connect:        redis-cli -p ${PROXY#*:}        (try: SET session:1 hi, SET user:1 hi, FLUSHALL)
  redis behind:   redis-cli -p ${REDIS_PORTS[0]} (main), redis-cli -p ${REDIS_PORTS[1]} (sessions)
  operate:        bin/keyway fleet | bin/keyway policy history | bin/keyway --help
  metrics:        curl http://$ADMIN/metrics
  logs:           $demo/*.log

Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "demo: a process exited; see the logs in $demo" >&2
