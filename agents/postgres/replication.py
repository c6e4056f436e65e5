"""PostgreSQL replication, rendered as pure functions: roles' configuration, the clone script.

A standby streams from the primary through its own physical slot, authenticating as
``_rdb_replicator`` with a password file kept in the node's volume (never in postgresql.conf).
The primary names its HA standby in ``synchronous_standby_names`` with
``synchronous_commit = remote_apply``: a commit returns once the standby has applied it.
"""

from __future__ import annotations

from agents.base import Role
from agents.postgres.conf import BASE, data_dir, quote

REPLICATOR = "_rdb_replicator"
PASSFILE = f"{BASE}/.pgpass"
CLONE_DIR = ".dbaas-clone"


def slot_name(node: str) -> str:
    return f"{node}_slot"


def pgpass(password: str) -> str:
    return f"*:*:*:{REPLICATOR}:{password}\n"


def replication_conf(role: Role) -> str:
    lines = ["# Replication role, managed by the control plane."]
    if role.kind == "primary":
        names = ", ".join(f'"{n}"' for n in role.sync_standbys)
        sync = f"FIRST 1 ({names})" if role.sync_standbys else ""
        lines += [
            f"synchronous_standby_names = {quote(sync)}",
            "synchronous_commit = 'remote_apply'",
        ]
    else:
        conninfo = (
            f"host={role.primary_host} port=5432 user={REPLICATOR} passfile={PASSFILE} "
            f"application_name={role.node} connect_timeout=2"
        )
        lines += [
            f"primary_conninfo = {quote(conninfo)}",
            f"primary_slot_name = {quote(slot_name(role.node))}",
            "recovery_target_timeline = 'latest'",
            "hot_standby = on",
            "hot_standby_feedback = on",
            # A standby never waits for anyone: if promoted it starts without sync standbys.
            "synchronous_standby_names = ''",
        ]
    return "\n".join(lines) + "\n"


def clone_script(major: str, role: Role) -> str:
    """Copy the primary into an empty data directory with pg_basebackup, then mark it standby
    (through its own slot), or, for a ``copy``, leave it an independent primary (pg_basebackup's
    temporary slot only: nothing stays behind on the source).

    Any previous content is discarded (a rebuilt node starts from the primary's data).
    """
    data = data_dir(major)
    follower = role.kind != "copy"
    slot = f"-C -S {slot_name(role.node)} " if follower else ""
    standby = (
        'touch "$DATA.clone/standby.signal"' if follower else 'rm -f "$DATA.clone/standby.signal"'
    )
    return f"""\
set -eu
DATA={data}
rm -rf "$DATA" "$DATA.clone"
mkdir -p "$(dirname "$DATA")"
PGPASSFILE={PASSFILE} pg_basebackup -h {role.primary_host} -p 5432 -U {REPLICATOR} \\
  -D "$DATA.clone" -X stream -c fast {slot}-w
{standby}
sync
mv "$DATA.clone" "$DATA"
rm -rf {BASE}/{CLONE_DIR}
echo "standby cloned"
"""
