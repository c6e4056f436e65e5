"""Volume rules of a node type: which volume types it offers and which sizes they accept.

``lssd`` is local storage whose size is fixed by the node type (``min_size == max_size``): the
request's ``volume_size`` must be 0 (what both SDKs send) or exactly that size. Block types
(``bssd``, ``sbs_5k``, ``sbs_15k``) need a size within [min_size, max_size], in whole chunks.
"""

from __future__ import annotations

from controlplane.catalog.model import GB, NodeType, VolumeTypeSpec
from controlplane.domain.arguments import ArgumentError, Reason


def validate_volume(
    node_type: NodeType,
    volume_type: str,
    volume_size: int | None,
    type_argument: str = "volume_type",
    size_argument: str = "volume_size",
) -> list[ArgumentError]:
    """Errors for creating (or moving) an instance of ``node_type`` on this volume."""
    spec = node_type.volume_type(volume_type)
    if spec is None:
        offered = ", ".join(v.type for v in node_type.available_volume_types)
        message = (
            f"volume type {str(volume_type)!r} is not available on node type {node_type.name} "
            f"(available: {offered})"
        )
        return [ArgumentError(type_argument, Reason.CONSTRAINT, message)]
    size = volume_size or 0
    if spec.is_local:
        if size not in (0, spec.min_size):
            message = (
                f"{spec.type} volumes have a size fixed by the node type "
                f"({_gb(spec.min_size)} on {node_type.name}); send 0"
            )
            return [ArgumentError(size_argument, Reason.CONSTRAINT, message)]
        return []
    return _block_size_errors(spec, size, size_argument)


def _block_size_errors(spec: VolumeTypeSpec, size: int, argument: str) -> list[ArgumentError]:
    if size == 0:
        message = f"a volume size is required for {spec.type} volumes"
        return [ArgumentError(argument, Reason.REQUIRED, message)]
    if size < spec.min_size or size > spec.max_size:
        message = (
            f"{spec.type} volume size must be between {_gb(spec.min_size)} and "
            f"{_gb(spec.max_size)} ({spec.min_size} to {spec.max_size} bytes)"
        )
        return [ArgumentError(argument, Reason.CONSTRAINT, message)]
    if size % spec.chunk_size:
        message = (
            f"{spec.type} volume size must be a multiple of {_gb(spec.chunk_size)} "
            f"({spec.chunk_size} bytes)"
        )
        return [ArgumentError(argument, Reason.CONSTRAINT, message)]
    return []


def effective_volume_size(node_type: NodeType, volume_type: str, volume_size: int | None) -> int:
    """The size the volume really has: the node type's fixed size for lssd, else the request's.

    Call it after ``validate_volume`` returned no error; raises ValueError otherwise.
    """
    spec = node_type.volume_type(volume_type)
    if spec is None:
        raise ValueError(f"volume type {str(volume_type)!r} is not available on {node_type.name}")
    if spec.is_local:
        return spec.min_size
    if not volume_size:
        raise ValueError(f"{volume_type} needs a volume size")
    return volume_size


def _gb(size: int) -> str:
    return f"{size / GB:g} GB"
