"""The ACL job: every endpoint of the instance admits exactly its rules, then it is ready.

The endpoints are the load balancer and each read replica's direct access (ACL rules apply to
both). A running proxy changes its allow list live and shuts the sessions of addresses no
longer admitted, the others go on; a stopped one starts with the new rules; a missing one is
left to the converge that re-creates it (with the rules). Running it twice changes nothing
more.
"""

from __future__ import annotations

from controlplane.domain.states import InstanceStatus
from workers import proxies
from workers.blueprint import lb_proxy, replica_proxies
from workers.blueprint import load as load_blueprint
from workers.instance_jobs import check_wanted, load_instance, set_status
from workers.runner import OperationContext


def apply(ctx: OperationContext) -> None:
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is None or instance.status == InstanceStatus.DELETING:
            return
        bp = load_blueprint(instance)
        lb_ports = [
            e.port
            for e in instance.endpoints
            if e.kind == "load_balancer" and not instance.load_balancer_released
        ]
    endpoints = replica_proxies(bp)
    for lb_port in lb_ports[:1]:  # one load balancer per instance
        endpoints.insert(0, lb_proxy(bp, lb_port))
    for proxy in endpoints:
        check_wanted(ctx.sessions, ctx.resource_id)
        proxies.admit(proxy)
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is not None and instance.status == InstanceStatus.CONFIGURING:
            set_status(session, instance, InstanceStatus.READY)
            session.commit()
