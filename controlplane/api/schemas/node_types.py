"""NodeType (3.7) and ListNodeTypesResponse, plus their construction from the catalog."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from controlplane import catalog
from controlplane.api.schemas.common import WireResponse, omitted_when_none
from controlplane.api.schemas.enums import (
    NodeTypeGeneration,
    NodeTypeStock,
    StorageClass,
    VolumeType,
)


class NodeTypeVolumeType(WireResponse):
    volume_type: VolumeType = Field(
        validation_alias=AliasChoices("type", "volume_type"), serialization_alias="type"
    )
    description: str
    min_size: int
    max_size: int
    chunk_size: int
    storage_class: StorageClass = Field(
        validation_alias=AliasChoices("class", "storage_class"), serialization_alias="class"
    )


class NodeTypeVolumeConstraintSizes(WireResponse):
    min_size: int
    max_size: int


class NodeType(WireResponse):
    name: str  # lower-case
    stock_status: NodeTypeStock
    description: str
    vcpus: int
    memory: int  # bytes
    volume_constraint: NodeTypeVolumeConstraintSizes | None = omitted_when_none()  # deprecated
    is_bssd_compatible: bool | None = omitted_when_none()  # deprecated
    disabled: bool
    beta: bool
    available_volume_types: list[NodeTypeVolumeType]
    is_ha_required: bool
    generation: NodeTypeGeneration
    instance_range: str
    region: str


class ListNodeTypesResponse(WireResponse):
    node_types: list[NodeType]
    total_count: int


def node_type_from_catalog(node_type: catalog.NodeType, region: str) -> NodeType:
    return NodeType(
        name=node_type.name,
        stock_status=NodeTypeStock(node_type.stock_status),
        description=node_type.description,
        vcpus=node_type.vcpus,
        memory=node_type.memory,
        is_bssd_compatible=True if node_type.volume_type("bssd") is not None else None,
        disabled=node_type.disabled,
        beta=node_type.beta,
        available_volume_types=[
            NodeTypeVolumeType(
                volume_type=VolumeType(v.type),
                description=v.description,
                min_size=v.min_size,
                max_size=v.max_size,
                chunk_size=v.chunk_size,
                storage_class=StorageClass(v.storage_class),
            )
            for v in node_type.available_volume_types
        ],
        is_ha_required=node_type.is_ha_required,
        generation=NodeTypeGeneration(node_type.generation),
        instance_range=node_type.instance_range,
        region=region,
    )
