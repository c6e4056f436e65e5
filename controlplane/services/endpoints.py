"""Endpoint use cases: get, create, delete, migrate (load-balancer endpoints; a read replica's
direct-access endpoint can be read and deleted too). Private networks do not exist on this host:
such specs are refused as create instance refuses them.

An instance has at most one load-balancer endpoint. The API records the desired state (the
endpoint row and its port on create, its removal and ``load_balancer_released`` on delete, the
move in the operation on migrate), moves the instance through the state machine and publishes
the job after the commit; the jobs (``workers/endpoint_jobs.py``) start or remove the proxies.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.api.schemas.endpoints import EndpointSpec
from controlplane.db.models import Endpoint, Instance, ReadReplica
from controlplane.domain.errors import InvalidArguments, NotFound
from controlplane.domain.states import InstanceStatus
from controlplane.services import instances, operations, ports
from controlplane.services.tenancy import Principal
from controlplane.settings import get_settings

LOAD_BALANCER = "load_balancer"


def get(session: Session, principal: Principal, region: str, endpoint_id: str) -> Endpoint:
    row = session.scalar(
        select(Endpoint)
        .join(Instance, Endpoint.instance_id == Instance.id)
        .where(
            Endpoint.id == endpoint_id,
            Instance.region == region,
            Instance.organization_id == principal.organization_id,
        )
    )
    if row is None:
        raise NotFound("endpoint", endpoint_id)
    return row


def _load_balancer(instance: Instance) -> Endpoint | None:
    return next(
        (e for e in instance.endpoints if e.kind == LOAD_BALANCER and e.read_replica_id is None),
        None,
    )


def create(
    session: Session, principal: Principal, region: str, instance_id: str, spec: EndpointSpec
) -> tuple[Endpoint, str]:
    if spec.private_network is not None:
        raise InvalidArguments.one(
            "endpoint_spec.private_network",
            "private networks are not available on this host; use load_balancer",
        )
    instance = instances.get(session, principal, region, instance_id, lock=True)
    if _load_balancer(instance) is not None:
        raise InvalidArguments.one(
            "endpoint_spec.load_balancer",
            "the instance already has a load-balancer endpoint (at most one)",
        )
    instances.guard_not_transient(instance)
    instances.start(session, instance, InstanceStatus.INITIALIZING)
    s = get_settings()
    port = ports.allocate(
        session, instance.id, LOAD_BALANCER, s.endpoint_port_min, s.endpoint_port_max,
        s.publish_address,
    )  # fmt: skip
    endpoint = Endpoint(kind=LOAD_BALANCER, ip=s.advertise_address, port=port)
    instance.endpoints.append(endpoint)
    instance.load_balancer_released = False
    op = operations.record(session, "create_endpoint", "instance", instance.id)
    session.commit()
    return endpoint, op.id


def delete(session: Session, principal: Principal, region: str, endpoint_id: str) -> str:
    """The endpoint row goes now (GET answers 404); the job stops its proxy, frees its port."""
    endpoint = get(session, principal, region, endpoint_id)
    instance = instances.get(session, principal, region, endpoint.instance_id, lock=True)
    instances.guard_not_transient(instance)
    params: dict[str, object] = {"kind": endpoint.kind}
    if endpoint.read_replica_id is not None:
        replica = session.get(ReadReplica, endpoint.read_replica_id)
        params["node"] = replica.node_name if replica is not None else None
    elif endpoint.kind == LOAD_BALANCER:
        instance.load_balancer_released = True
    instances.start(session, instance, InstanceStatus.CONFIGURING)
    session.delete(endpoint)
    op = operations.record(session, "delete_endpoint", "instance", instance.id, params)
    session.commit()
    return op.id


def migrate(
    session: Session, principal: Principal, region: str, endpoint_id: str, target_id: str
) -> tuple[Endpoint, str]:
    """The load-balancer endpoint (its id, address and port) moves to another instance of the
    same project; the source keeps running without it."""
    endpoint = get(session, principal, region, endpoint_id)
    if endpoint.kind != LOAD_BALANCER or endpoint.read_replica_id is not None:
        raise InvalidArguments.one("endpoint_id", "only a load-balancer endpoint can migrate")
    source = instances.get(session, principal, region, endpoint.instance_id, lock=True)
    target = instances.get(session, principal, region, target_id, lock=True)
    if target.id == source.id:
        raise InvalidArguments.one("instance_id", "the endpoint is already this instance's")
    if target.project_id != source.project_id:
        raise InvalidArguments.one("instance_id", "an endpoint migrates within its project only")
    if _load_balancer(target) is not None:
        raise InvalidArguments.one(
            "instance_id",
            "the instance already has a load-balancer endpoint (at most one): delete it first",
        )
    if target.engine.split("-")[0] != source.engine.split("-")[0]:
        raise InvalidArguments.one(
            "instance_id", f"{target.engine} cannot take an endpoint of {source.engine}"
        )
    instances.guard_not_transient(source)
    instances.guard_not_transient(target)
    instances.start(session, source, InstanceStatus.CONFIGURING)
    instances.start(session, target, InstanceStatus.CONFIGURING)
    op = operations.record(
        session, "migrate_endpoint", "instance", target.id,
        {"source_id": source.id, "endpoint_id": endpoint.id},
    )  # fmt: skip
    session.commit()
    return endpoint, op.id
