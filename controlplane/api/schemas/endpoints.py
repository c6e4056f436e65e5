"""Endpoint (response) and EndpointSpec / ReadReplicaEndpointSpec (requests).

An Endpoint carries exactly one of ``load_balancer`` / ``private_network`` / ``direct_access``;
the other two keys are absent from the JSON (clients classify endpoints by which key is there).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import field_validator, model_validator

from controlplane.api.schemas.common import WireRequest, WireResponse, omitted_when_none
from controlplane.api.schemas.enums import EndpointPrivateNetworkDetailsProvisioningMode

EndpointKind = Literal["load_balancer", "private_network", "direct_access"]


class EndpointLoadBalancerDetails(WireResponse):
    """Always ``{}``."""


class EndpointDirectAccessDetails(WireResponse):
    """Always ``{}`` (read-replica public endpoint)."""


class EndpointPrivateNetworkDetails(WireResponse):
    private_network_id: str
    service_ip: str  # CIDR: host IP and subnet mask, e.g. "172.16.0.3/22"
    zone: str  # e.g. "fr-par-1"
    provisioning_mode: EndpointPrivateNetworkDetailsProvisioningMode = (
        EndpointPrivateNetworkDetailsProvisioningMode.STATIC
    )


class Endpoint(WireResponse):
    id: str
    ip: str | None = None
    port: int
    name: str | None = None
    load_balancer: EndpointLoadBalancerDetails | None = omitted_when_none()
    private_network: EndpointPrivateNetworkDetails | None = omitted_when_none()
    direct_access: EndpointDirectAccessDetails | None = omitted_when_none()
    hostname: str | None = omitted_when_none()

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Endpoint:
        kinds = (self.load_balancer, self.private_network, self.direct_access)
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError(
                "exactly one of load_balancer, private_network, direct_access must be set"
            )
        return self

    @property
    def kind(self) -> EndpointKind:
        if self.load_balancer is not None:
            return "load_balancer"
        if self.private_network is not None:
            return "private_network"
        return "direct_access"


# --- requests ---------------------------------------------------------------------------------


class EndpointSpecLoadBalancer(WireRequest):
    """``{}``."""


class EndpointSpecPrivateNetworkIpamConfig(WireRequest):
    """``{}``: let IPAM choose the address."""


class EndpointSpecPrivateNetwork(WireRequest):
    """``private_network_id`` plus one of ``service_ip`` (static) or ``ipam_config``.

    Neither means IPAM (Terraform's behaviour when no address is given); both is an error (the
    Python SDK never sends both, Go sends whatever is set).
    """

    private_network_id: str
    service_ip: str | None = None
    ipam_config: EndpointSpecPrivateNetworkIpamConfig | None = None

    @field_validator("service_ip")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ipaddress.IPv4Interface(value)
        except ValueError as exc:
            raise ValueError(
                "service_ip must be an IPv4 address with a mask, e.g. 10.0.0.5/24"
            ) from exc
        if "/" not in value:
            raise ValueError("service_ip must carry its mask, e.g. 10.0.0.5/24")
        return value

    @model_validator(mode="after")
    def _one_address_mode(self) -> EndpointSpecPrivateNetwork:
        if self.service_ip is not None and self.ipam_config is not None:
            raise ValueError("only one of service_ip, ipam_config can be set")
        return self

    @property
    def provisioning_mode(self) -> EndpointPrivateNetworkDetailsProvisioningMode:
        if self.service_ip is not None:
            return EndpointPrivateNetworkDetailsProvisioningMode.STATIC
        return EndpointPrivateNetworkDetailsProvisioningMode.IPAM


class EndpointSpec(WireRequest):
    """One endpoint to create on an instance: ``load_balancer`` or ``private_network``."""

    load_balancer: EndpointSpecLoadBalancer | None = None
    private_network: EndpointSpecPrivateNetwork | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EndpointSpec:
        if (self.load_balancer is None) == (self.private_network is None):
            raise ValueError("exactly one of load_balancer, private_network must be set")
        return self


class ReadReplicaEndpointSpecDirectAccess(WireRequest):
    """``{}``."""


ReadReplicaEndpointSpecPrivateNetwork = EndpointSpecPrivateNetwork


class ReadReplicaEndpointSpec(WireRequest):
    """One endpoint to create on a read replica: ``direct_access`` or ``private_network``."""

    direct_access: ReadReplicaEndpointSpecDirectAccess | None = None
    private_network: EndpointSpecPrivateNetwork | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReadReplicaEndpointSpec:
        if (self.direct_access is None) == (self.private_network is None):
            raise ValueError("exactly one of direct_access, private_network must be set")
        return self


class CreateEndpointRequest(WireRequest):
    endpoint_spec: EndpointSpec


class MigrateEndpointRequest(WireRequest):
    instance_id: str
