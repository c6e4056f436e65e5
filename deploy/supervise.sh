#!/usr/bin/env bash
# supervise.sh NAME COMMAND...: runs COMMAND again whenever it exits (a crash, the OOM killer,
# a Celery worker giving up after its broker restarted), after a pause that doubles while it
# keeps failing fast (1 s to 30 s). SIGTERM/SIGINT stop the command, then the supervisor.
# deploy/up.sh runs every process of the service under it; use systemd's Restart=always instead
# on hosts that have it.
set -u
name=$1
shift
child=0
stopping=0
stop() {
  stopping=1
  [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT
delay=1
while [ "$stopping" = 0 ]; do
  started=$SECONDS
  "$@" &
  child=$!
  wait "$child"
  status=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done  # a trap woke us
  [ "$stopping" = 1 ] && break
  if [ $((SECONDS - started)) -ge 60 ]; then delay=1; fi
  echo "[supervise] $name exited ($status); starting it again in ${delay}s" >&2
  sleep "$delay" &
  wait $! 2>/dev/null
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
exit 0
