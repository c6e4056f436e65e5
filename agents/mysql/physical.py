"""MariaDB physical snapshots (mariadb-backup) and point-in-time replay (mariadb-binlog), as pure
renderings: the commands and the shell scripts the workers run.

* The snapshot streams out of the running main node (``mariadb-backup --backup
  --stream=xbstream``, run in the node as the OS user ``mysql``, which is ``mysql@localhost``
  through unix_socket: the service's own account, no password travels and the customer's admin
  gains nothing). InnoDB is copied while it writes; the backup stages block commits only for
  the moment it reads the binlog position. A one-shot container then unpacks and prepares the
  copy (``--prepare``, applying the redo log copied alongside) into a ready data directory:
  what is stored needs nothing more than unpacking at restore time.
* The copy records the binlog position of its last transaction (``xtrabackup_binlog_info``,
  ``mariadb_backup_binlog_info`` from 11.x) and keeps the node's ``conf/05-init.cnf``, whose
  ``server_id`` names the binlog lineage the archive stores its files under.
* A restore to a time replays the archived binlogs of that lineage from that position up to
  the target second into the restored data directory, through a temporary server (socket
  only, no binlog), as ``mysql@localhost``.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

from agents.mysql.conf import BASE, DATA_DIR, INIT_FILE

SOCKET = "/run/mysqld/mysqld.sock"
STREAM = "snapshot.xbstream"  # the streamed copy, in the worker's exchange directory
KEPT = "kept"  # files kept from the node beside it (relative to the data mount)
KEPT_FILES = (INIT_FILE,)
BINLOG_INFO_FILES = ("mariadb_backup_binlog_info", "xtrabackup_binlog_info")


def backup_command() -> list[str]:
    """Run in the main node as its OS user: the copy on stdout, progress on stderr."""
    return [
        "mariadb-backup", "--backup", "--stream=xbstream", "--target-dir=/tmp",
        f"--datadir={DATA_DIR}", f"--socket={SOCKET}", "--user=mysql",
    ]  # fmt: skip


def prepare_script(exchange: str, archive: str) -> str:
    """In a one-shot container of the image with the exchange directory mounted: the stream
    unpacked and prepared into ``data/``, the kept files beside it, archived (tar + gzip) under
    a temporary name renamed at the end, so the worker never reads a partial one."""
    ex = shlex.quote(exchange)
    return f"""\
set -eu; umask 022
EX={ex}; W="$EX/copy"
rm -rf "$W"; mkdir -p "$W/data"
mbstream -x -C "$W/data" <"$EX/{STREAM}"
rm -f "$EX/{STREAM}"
mariadb-backup --prepare --target-dir="$W/data" >"$EX/prepare.log" 2>&1 \\
  || {{ tail -n 20 "$EX/prepare.log" >&2; exit 1; }}
cp -R "$EX/{KEPT}/." "$W/"
tar -C "$W" -czf "$EX/{archive}.part" .
sync; mv "$EX/{archive}.part" "$EX/{archive}"; rm -rf "$W"
"""


def stop_datetime(target: datetime) -> str:
    """mariadb-binlog's ``--stop-datetime`` for a target time (UTC): binlog events carry whole
    seconds (the statement's start, truncated), and replay stops at the first event at or after
    the stop time, so the target is truncated to its second and every event stamped at or
    before that second is replayed."""
    moment = target.astimezone(UTC) if target.tzinfo else target.replace(tzinfo=UTC)
    stop = moment.replace(microsecond=0) + timedelta(seconds=1)
    return stop.strftime("%Y-%m-%d %H:%M:%S")


def pitr_script(target_time: str, binlog_dir: str) -> str:
    """``bash -c`` of ``replay_script``."""
    return f"bash -c {shlex.quote(replay_script(target_time, binlog_dir))}"


def replay_script(target_time: str, binlog_dir: str) -> str:
    """Over a restored data directory (its node not started yet): replay the binlogs of the
    copy's lineage in ``binlog_dir/<server_id>/`` from the copy's position to ``target_time``
    (RFC 3339), through a temporary server on a socket of its own, then shut it down cleanly.
    Fails when the lineage's files do not start at the copy's binlog file (a failover or a
    rebuild since the snapshot: those binlogs are another node's)."""
    stop = stop_datetime(datetime.fromisoformat(target_time))
    work = f"{BASE}/.dbaas-pitr"
    infos = " ".join(f'"$DATA/{name}"' for name in BINLOG_INFO_FILES)
    return f"""\
set -euo pipefail
export TZ=UTC
DATA={DATA_DIR}; WORK={work}; SOCK="$WORK/mysqld.sock"; BINLOGS={shlex.quote(binlog_dir)}
fail() {{
  echo "point-in-time replay failed: $*" >&2
  cat "$WORK/server.log" >&2 2>/dev/null || true
  exit 1
}}
INFO=""
for f in {infos}; do [ -f "$f" ] && INFO="$f" && break; done
[ -n "$INFO" ] || fail "the snapshot records no binlog position"
read -r FILE POSITION _ <"$INFO" || true
SERVER_ID=$(sed -n 's/^server_id *= *"\\{{0,1\\}}\\([0-9]*\\).*/\\1/p' \\
  {BASE}/{INIT_FILE} | tail -n 1)
LINEAGE="$BINLOGS/$SERVER_ID"
[ -n "$SERVER_ID" ] && [ -f "$LINEAGE/$FILE" ] || fail "binlog $FILE of server $SERVER_ID \\
is not archived: the main node changed since the snapshot (failover or rebuild)"
FILES=$(cd "$LINEAGE" && ls binlog.[0-9]* | sort | awk -v first="$FILE" '$0 >= first')
rm -rf "$WORK"; mkdir -p "$WORK"
mariadbd --defaults-file={BASE}/{INIT_FILE} --datadir="$DATA" --socket="$SOCK" \\
  --pid-file="$WORK/mysqld.pid" --skip-networking --skip-log-bin --skip-slave-start \\
  --log-error="$WORK/server.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  mariadb-admin --socket="$SOCK" ping >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || fail "temporary server exited"
  sleep 0.1
done
(cd "$LINEAGE" && mariadb-binlog --start-position="$POSITION" \\
  --stop-datetime={shlex.quote(stop)} $FILES 2>"$WORK/binlog.err") \\
  | mariadb --socket="$SOCK" --max-allowed-packet=1G || fail "replay: $(cat "$WORK/binlog.err")"
mariadb-admin --socket="$SOCK" shutdown
wait "$PID" || true
trap - EXIT
rm -rf "$WORK"
echo "replayed $(echo $FILES | wc -w) binlog file(s) of server $SERVER_ID" \\
  "from $FILE:$POSITION to {stop}"
"""
