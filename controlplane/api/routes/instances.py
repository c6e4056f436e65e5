"""Instances: list, create, get, update, delete."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from controlplane.api import convert
from controlplane.api.body import parse
from controlplane.api.deps import (
    PageDep,
    PageSizeDep,
    PrincipalDep,
    RegionDep,
    SessionDep,
)
from controlplane.api.schemas.common import ScwFile, json_response, wire_response
from controlplane.api.schemas.instances import (
    CreateInstanceRequest,
    UpdateInstanceRequest,
)
from controlplane.api.schemas.operations import ListOperationsResponse
from controlplane.db.base import utcnow
from controlplane.db.session import read_connection, session_factory
from controlplane.domain import metrics
from controlplane.services import instances as service
from controlplane.services import metric_samples, operations
from controlplane.services.operations import publish_after_commit

router = APIRouter(prefix="/rdb/v1/regions/{region}")


def wants_download(dl: str | None) -> bool:
    """``dl`` as the SDKs send it: ``1`` (JavaScript), ``true``/``True``."""
    return dl is not None and dl.strip().lower() in ("1", "true")


# The two hottest reads run on the event loop, like the dependencies: the hop to the thread
# pool cost more than their queries (a quarter of GET one's CPU), and SQLite readers in WAL mode
# never wait for a writer. One API process per CPU keeps the loops busy. Each checks out a bare
# read connection (no Session: a quarter of the cost) and returns it with no await in between: a
# process's loop holds one read connection at most (db/session.py READ_POOL), and a yield
# dependency's exit would have cost a tenth of GET one's CPU.
@router.get("/instances")
async def list_instances(
    principal: PrincipalDep,
    region: RegionDep,
    tags: Annotated[list[str] | None, Query()] = None,
    name: str | None = None,
    order_by: str = "created_at_asc",
    organization_id: str | None = None,
    project_id: str | None = None,
    has_maintenances: bool | None = None,
    page: PageDep = 1,
    page_size: PageSizeDep = None,
) -> Response:
    with read_connection() as connection:
        result = service.list_instances(
            connection,
            principal,
            region,
            name=name or None,
            tags=[t for t in tags or [] if t],
            project_id=project_id or None,
            organization_id=organization_id or None,
            has_maintenances=has_maintenances,
            order_by=order_by or "created_at_asc",
            page=page,
            page_size=page_size,
        )
        instances = convert.instances_wire(connection, result.items)
    return json_response({"instances": instances, "total_count": result.total_count})


@router.post("/instances")
async def create_instance(
    request: Request, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    body = await parse(request, CreateInstanceRequest)
    instance, op_id = service.create(session, principal, region, body)
    publish_after_commit(session_factory(), [op_id])
    return json_response(convert.instance_wire(instance))


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: str, principal: PrincipalDep, region: RegionDep) -> Response:
    with read_connection() as connection:
        found = service.get_shown(connection, principal, region, instance_id)
        instance = convert.instances_wire(connection, [found])[0]
    return json_response(instance)


@router.patch("/instances/{instance_id}")
async def update_instance(
    instance_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
) -> Response:
    body = await parse(request, UpdateInstanceRequest)
    instance = service.update(session, principal, region, instance_id, body)
    return json_response(convert.instance_wire(instance))


@router.get("/instances/{instance_id}/operations")
def list_instance_operations(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    """Extension (not in RDB v1): what the control plane did to the instance and its replicas,
    newest first: provisioning, failovers, degradations, heals, certificate renewals."""
    instance = service.get(session, principal, region, instance_id)
    ids = [instance.id, *(r.id for r in instance.read_replicas)]
    records = [convert.operation(op) for op in operations.of_resources(session, ids)]
    return wire_response(ListOperationsResponse(operations=records, total_count=len(records)))


@router.get("/instances/{instance_id}/metrics")
def get_instance_metrics(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    start_date: str | None = None,
    end_date: str | None = None,
    metric_name: str | None = None,
) -> Response:
    """Each node's samples between the dates (default: the last hour), one metric if named."""
    window = metrics.window(start_date, end_date, utcnow())
    instance = service.get(session, principal, region, instance_id)
    found = metric_samples.between(session, instance.id, window, metric_name or None)
    return wire_response(convert.metrics(instance, metrics.series(found)))


@router.get("/instances/{instance_id}/certificate")
def get_instance_certificate(
    instance_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    region: RegionDep,
    dl: str | None = None,
) -> Response:
    """``dl=1`` (the JavaScript SDK): the raw PEM as a file download, as the real API's file
    endpoints answer; otherwise the JSON ``scaleway.std.File`` wrapper (Python, Go)."""
    pem = service.certificate(session, principal, region, instance_id)
    if wants_download(dl):
        return Response(
            pem,
            media_type="application/x-pem-file",
            headers={"Content-Disposition": 'attachment; filename="ssl_certificate.pem"'},
        )
    return wire_response(
        ScwFile(
            name="ssl_certificate",
            content_type="application/x-pem-file",
            content=base64.b64encode(pem.encode()).decode(),
        )
    )


@router.post("/instances/{instance_id}/renew-certificate", status_code=204)
def renew_instance_certificate(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    op_id = service.renew_certificate(session, principal, region, instance_id)
    publish_after_commit(session_factory(), [op_id])
    return Response(status_code=204, media_type="application/json")


@router.delete("/instances/{instance_id}")
def delete_instance(
    instance_id: str, session: SessionDep, principal: PrincipalDep, region: RegionDep
) -> Response:
    instance, op_id = service.delete(session, principal, region, instance_id)
    publish_after_commit(session_factory(), [op_id])
    return json_response(convert.instance_wire(instance))
