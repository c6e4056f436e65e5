"""A 404 for a path no route serves still names a resource and an id (pure).

Clients render ``not_found`` as "resource '<resource>' with ID '<resource_id>'": an empty pair
is useless to a user. The path's last collection names the resource (singular, as the API names
it: ``read-replicas`` -> ``read_replica``, ``snapshots`` -> ``instance_snapshot``); its id is the
segment after it, else the id of the resource it hangs under, else the path itself.
"""

from __future__ import annotations

API_PREFIX = ("rdb", "v1", "regions")
RESOURCES = {
    "instances": "instance",
    "read-replicas": "read_replica",
    "backups": "database_backup",
    "snapshots": "instance_snapshot",
    "endpoints": "endpoint",
    "logs": "instance_log",
    "users": "user",
    "databases": "database",
    "privileges": "privilege",
    "acls": "instance_acl",
    "settings": "instance_setting",
    "node-types": "node_type",
    "database-engines": "database_engine",
}
MAX_ID = 200


def resource_of(path: str) -> tuple[str, str]:
    """(resource, resource_id) for an unknown path, neither ever empty."""
    parts = [p for p in path.split("/") if p]
    if tuple(parts[:3]) != API_PREFIX or len(parts) < 5:
        return "route", path[:MAX_ID] or "/"
    rest = parts[4:]  # after /rdb/v1/regions/{region}
    pairs = [(rest[i], rest[i + 1] if i + 1 < len(rest) else "") for i in range(0, len(rest), 2)]
    collection, resource_id = pairs[-1]
    if not resource_id and len(pairs) > 1:
        resource_id = pairs[-2][1]
    name = RESOURCES.get(collection, collection.replace("-", "_"))
    return name, (resource_id or path)[:MAX_ID]
