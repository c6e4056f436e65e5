"""Property-based fuzzing of the whole API from the public RDB v1 OpenAPI description.

Schemathesis generates requests for all 58 operations (implemented or not), authenticated,
half of them aimed at rows that exist, and every response must be a Scaleway-format answer:
never a server error, always JSON with a ``type`` on errors. The API under test is a real
uvicorn process on a metadata store of its own, with no worker: a create that passes
validation is recorded, never built. ``DBAAS_FUZZ_EXAMPLES`` sets the examples per operation.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from controlplane import secrets as crypto
from controlplane.db.models import Instance, ReadReplica
from controlplane.services import tenancy
from tests.support import processes
from tests.support.stores import fresh_sqlite, migrated

SPEC = Path(__file__).with_name("scaleway-rdb-v1.openapi.yaml")
EXAMPLES = int(os.environ.get("DBAAS_FUZZ_EXAMPLES", "25"))


@dataclass(frozen=True)
class Target:
    url: str
    token: str
    ids: dict[str, str]  # path parameter -> the id of a row that exists


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    directory = tmp_path_factory.mktemp("fuzz")
    url = fresh_sqlite(directory)
    sessions = migrated(url)
    with sessions() as session:
        org = tenancy.create_organization(session, "fuzz")
        project = tenancy.create_project(session, org.id, "default")
        key = tenancy.issue_api_key(session, org.id, "fuzz")
        instance = Instance(
            organization_id=org.id, project_id=project.id, region="fr-par", name="fuzzed",
            engine="PostgreSQL-15", node_type="db-dev-s", status="ready", volume_type="lssd",
            volume_size=0, superuser_secret=crypto.encrypt("x"),
            replication_secret=crypto.encrypt("y"),
        )  # fmt: skip
        instance.read_replicas.append(ReadReplica(region="fr-par", status="ready", node_name="r1"))
        session.add(instance)
        session.commit()
        ids = {"instance_id": instance.id, "read_replica_id": instance.read_replicas[0].id}
    env = {"DATABASE_URL": url, "DBAAS_QUEUE_NAME": f"fuzz-{secrets.token_hex(4)}"}
    with processes.api_server(env=env, log_name="api-fuzz") as api_url:
        yield Target(api_url, key.secret_key, ids)


fuzzed = schemathesis.openapi.from_path(SPEC)  # a local file: one test per operation


@fuzzed.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_makes_a_server_error(case: Any, target: Target) -> None:
    if case.path_parameters:
        case.path_parameters["region"] = "fr-par"
        # Half the examples reach rows that exist (the rest, ids that do not).
        if int.from_bytes(secrets.token_bytes(1), "big") % 2 == 0:
            for name, value in target.ids.items():
                if name in case.path_parameters:
                    case.path_parameters[name] = value
    response = case.call(base_url=target.url, headers={"X-Auth-Token": target.token})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/json"), response.text
        assert "type" in response.json(), response.text


def test_the_fuzzer_reached_the_api(target: Target) -> None:
    """Runs after the fuzzing: the API's own access log shows it was really exercised (many
    requests, accepted and refused ones, every operation) and never answered 5xx."""
    log = Path(os.environ["DBAAS_STATE_DIR"]) / "log" / "api-fuzz.log"
    statuses = Counter(
        int(match.group(1)) for match in re.finditer(r'HTTP/1.1" (\d{3})', log.read_text())
    )
    summary = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    print(f"fuzz: {sum(statuses.values())} requests ({summary})")
    assert not [code for code in statuses if code >= 500], summary
    assert sum(statuses.values()) >= 58 * min(EXAMPLES, 5), summary
    assert sum(n for code, n in statuses.items() if code < 300) > 0, summary
    assert statuses[400] > 0 and statuses[404] > 0, summary
