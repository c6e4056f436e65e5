#!/usr/bin/env bash
# One command: lab bootstrap, migrations, then the API, a Celery worker, Celery beat and the
# HA monitor, each supervised (deploy/supervise.sh). Running it again restarts them on the
# current code.
set -euo pipefail
umask 077   # the metadata store, keys, credentials and logs are the service's alone
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/deploy/lab.sh"
cd "$ROOT"
export DBAAS_STATE_DIR="${DBAAS_STATE_DIR:-$ROOT/.var}"
RUN="$DBAAS_STATE_DIR/run"; LOG="$DBAAS_STATE_DIR/log"
mkdir -p "$RUN" "$LOG"
chmod 700 "$DBAAS_STATE_DIR"
find "$DBAAS_STATE_DIR" -maxdepth 1 -type f -exec chmod 600 {} +   # stores of older versions
HOST="${DBAAS_API_HOST:-127.0.0.1}"; PORT="${DBAAS_API_PORT:-8080}"
BIN="$ROOT/.venv/bin"

"$ROOT/deploy/down.sh" >/dev/null
"$BIN/dbaas" migrate
"$BIN/dbaas" init-key   # first run: a random key in $DBAAS_STATE_DIR/secrets (0600)
start() {  # name, command...: supervised, started again whenever it exits
  local name="$1"; shift
  nohup "$ROOT/deploy/supervise.sh" "$name" "$@" >>"$LOG/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}
start api "$BIN/dbaas" api --host "$HOST" --port "$PORT"   # one process per CPU
start worker "$BIN/celery" -A workers.app worker --loglevel INFO --pool threads --concurrency 8 -n "worker@%h"
start beat "$BIN/celery" -A workers.app beat --loglevel INFO -s "$RUN/celerybeat-schedule"
start monitor "$BIN/dbaas" monitor

for _ in $(seq 1 60); do
  curl -fsS "http://$HOST:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://$HOST:$PORT/healthz" >/dev/null || { tail -20 "$LOG/api.log"; exit 1; }
"$BIN/dbaas" bootstrap --api-url "http://$HOST:$PORT"
echo
echo "API: http://$HOST:$PORT/rdb/v1/regions/fr-par/instances"
echo "Logs: $LOG   Stop: deploy/down.sh"
echo "Use the key: export SCW_CONFIG_PATH=$DBAAS_STATE_DIR/credentials.yaml (scw CLI / SDK)"
