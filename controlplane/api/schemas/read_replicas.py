"""ReadReplica (response, 3.3) and its request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from controlplane.api.schemas.common import NULL_AS_EMPTY_LIST, WireRequest, WireResponse, null_as
from controlplane.api.schemas.endpoints import Endpoint, ReadReplicaEndpointSpec
from controlplane.api.schemas.enums import ReadReplicaStatus


class ReadReplica(WireResponse):
    id: str
    endpoints: list[Endpoint] = Field(default_factory=list)
    status: ReadReplicaStatus
    region: str
    same_zone: bool = True
    instance_id: str


class CreateReadReplicaRequest(WireRequest):
    """POST /read-replicas. An empty ``endpoint_spec`` means the default: one direct access
    endpoint. ``same_zone`` defaults to true."""

    instance_id: str
    endpoint_spec: Annotated[list[ReadReplicaEndpointSpec], NULL_AS_EMPTY_LIST] = Field(
        default_factory=list
    )
    same_zone: Annotated[bool, null_as(True)] = True


class CreateReadReplicaEndpointRequest(WireRequest):
    endpoint_spec: list[ReadReplicaEndpointSpec]
