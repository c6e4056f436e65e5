"""Instance logs through the official SDK and plain HTTP: a statement error reaches the
prepared log of the node that ran it, downloaded without an API key through its signed URL; a
tampered or expired URL is refused; the log of a main node killed in a failover is still
there; another organization sees none of it; purge and details work on real collected logs."""

from __future__ import annotations

import time
import uuid
from contextlib import closing
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import docker
import httpx
import pytest
from scaleway import ScalewayException
from scaleway.rdb.v1 import RdbV1API

from controlplane.logstore import signing
from tests.e2e.clients import CLIENTS
from tests.support.ha import node_container, primary_container, wait_ha_again
from tests.support.instances import wait
from tests.support.live import PASSWORD, USER, Live, create, delete
from tests.support.tenants import Tenant, new_tenant

pytestmark = pytest.mark.docker


def _error(live: Live, marker: str) -> None:
    """A statement that fails: the server logs the error and the statement."""
    with closing(live.client.connect("127.0.0.1", live.port, USER, PASSWORD)) as conn:
        cursor = conn.cursor()
        with pytest.raises(Exception, match="does not exist"):
            cursor.execute(f"SELECT * FROM missing_{marker}")


def _downloads(rdb: RdbV1API, instance_id: str) -> dict[str, str]:
    """Prepare the current day's logs; node name -> downloaded text."""
    prepared = rdb.prepare_instance_logs(instance_id=instance_id).instance_logs
    assert prepared and all(log.status == "creating" for log in prepared)
    texts = {}
    for log in prepared:
        ready = rdb.wait_for_instance_log(instance_log_id=log.id, options=wait())
        assert ready.status == "ready" and ready.download_url and ready.expires_at
        response = httpx.get(ready.download_url)  # no API key
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"].endswith('.log"')
        texts[ready.node_name] = response.text
    return texts


def _with_query(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunparse(parts._replace(query=urlencode({**query, **changes})))


def test_logs_of_an_ha_instance_across_a_failover(
    rdb: RdbV1API, docker_client: docker.DockerClient, api_url: str
) -> None:
    live = create(rdb, CLIENTS["postgresql"], "logs-ha", ha=True)
    try:
        before = uuid.uuid4().hex[:12]
        killed = primary_container(live.instance_id)
        killed_node = killed.rsplit("-", 1)[1]
        _error(live, before)
        texts = _downloads(rdb, live.instance_id)
        assert f"missing_{before}" in texts[killed_node]
        assert f"missing_{before}" not in "".join(t for n, t in texts.items() if n != killed_node)

        # the URL is the key: changed, it is refused; so is a correctly signed expired one
        log = rdb.list_instance_logs(instance_id=live.instance_id, order_by="created_at_desc")
        url = next(entry.download_url for entry in log.instance_logs if entry.download_url)
        assert url is not None
        signature = parse_qs(urlparse(url).query)["signature"][0]
        tampered = _with_query(url, signature=("0" if signature[0] != "0" else "1") + signature[1:])
        assert httpx.get(tampered).status_code == 403
        assert httpx.get(_with_query(url, filename="other.log")).status_code == 403
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        key = urlparse(url).path.removeprefix("/downloads/logs/")
        past = int(time.time()) - 60
        expired = _with_query(url, expires=str(past),
                              signature=signing.sign(key, query["filename"], past))  # fmt: skip
        assert httpx.get(expired).status_code == 403

        # the main node dies; after the failover its log (before and after) is still there
        wait_ha_again(live.instance_id)
        docker_client.containers.get(killed).kill()
        deadline = time.monotonic() + 60
        while primary_container(live.instance_id) == killed:
            assert time.monotonic() < deadline, "no failover"
            time.sleep(0.5)
        wait_ha_again(live.instance_id)
        after = uuid.uuid4().hex[:12]
        _error(live, after)
        texts = _downloads(rdb, live.instance_id)
        assert f"missing_{before}" in texts[killed_node]
        survivor = node_container(live.instance_id, "primary").rsplit("-", 1)[1]
        assert f"missing_{after}" in texts[survivor]

        details = rdb.list_instance_logs_details(instance_id=live.instance_id).details
        names = {d.log_name for d in details}
        assert {f"postgresql-{n}-" for n in texts} <= {
            name[: len("postgresql-n1-")] for name in names
        }
        assert all(d.size > 0 for d in details)

        other = _other_tenant_client(api_url)
        for call in (
            lambda: other.list_instance_logs(instance_id=live.instance_id),
            lambda: other.get_instance_log(instance_log_id=log.instance_logs[0].id),
            lambda: other.list_instance_logs_details(instance_id=live.instance_id),
            lambda: other.purge_instance_logs(instance_id=live.instance_id),
        ):
            with pytest.raises(ScalewayException) as refused:
                call()
            assert refused.value.status_code == 404

        # purge one node's day by its name, then everything: what was collected is gone
        today = next(n for n in names if n.startswith(f"postgresql-{killed_node}-"))
        rdb.purge_instance_logs(instance_id=live.instance_id, log_name=today)
        texts = _downloads(rdb, live.instance_id)
        assert f"missing_{before}" not in texts[killed_node]
        assert f"missing_{after}" in texts[survivor]
        rdb.purge_instance_logs(instance_id=live.instance_id)
        texts = _downloads(rdb, live.instance_id)
        assert f"missing_{after}" not in "".join(texts.values())
        with pytest.raises(ScalewayException) as unknown:
            rdb.purge_instance_logs(instance_id=live.instance_id, log_name="nothing-n9.log")
        assert unknown.value.status_code == 400
    finally:
        delete(rdb, live.instance_id)


def _other_tenant_client(api_url: str) -> RdbV1API:
    from scaleway import Client

    other: Tenant = new_tenant("logs-other")
    client = Client(access_key=other.access_key, secret_key=other.secret_key, api_url=api_url,
                    default_region="fr-par", default_project_id=other.project_id)  # fmt: skip
    return RdbV1API(client)


def test_mariadb_error_log_is_collected(rdb: RdbV1API) -> None:
    """MariaDB's error log (server start, its notes and warnings) reaches the prepared log."""
    live = create(rdb, CLIENTS["mariadb"], "logs-mariadb", ha=False)
    try:
        texts = _downloads(rdb, live.instance_id)
        assert "ready for connections" in texts["n1"]
        (detail,) = rdb.list_instance_logs_details(instance_id=live.instance_id).details
        assert detail.log_name.startswith("mariadb-n1-") and detail.size > 0
    finally:
        delete(rdb, live.instance_id)
