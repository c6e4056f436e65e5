"""Base classes and shared pieces of the wire schemas.

Responses mirror the Scaleway JSON exactly. A key the real API marks "nullable" is always
present (``null`` when unset); a key it omits when unset (the non-chosen oneof branches,
``Endpoint.hostname``, the deprecated NodeType fields) is declared with ``omitted_when_none`` and
vanishes from the output instead of being ``null``. Timestamps leave as RFC 3339 UTC with ``Z``.

Serialise a response with ``to_wire(model)`` (a JSON-ready dict); FastAPI's ``response_model``
gives the same output, since every rule lives in the model itself.

Requests are lenient like the real server: unknown keys are ignored, and ``null`` where a list or
a default is expected means "not given". Nothing here needs the catalog: whether a node type,
engine or setting exists is checked by the services (``controlplane.catalog``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic_core import to_json
from starlette.responses import Response


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are UTC (Python clients send isoformat() of naive datetimes).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2025-01-07T14:27:17.263055Z`` (microseconds only when non-zero)."""
    value = _as_utc(value)
    if value.year >= 1000:  # isoformat: the same text at a third of strftime's cost
        return value.isoformat().removesuffix("+00:00") + "Z"
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
]


def _is_none(value: Any) -> bool:
    return value is None


def omitted_when_none(**kwargs: Any) -> Any:
    """A field whose key is left out of the JSON when its value is None (default None)."""
    kwargs.setdefault("default", None)
    return Field(exclude_if=_is_none, **kwargs)


def _null_as(default: Callable[[], Any]) -> BeforeValidator:
    return BeforeValidator(lambda value: default() if value is None else value)


NULL_AS_EMPTY_LIST = _null_as(list)
"""Annotate a list field with it: ``null`` (what Go sends for an unset list) becomes ``[]``."""


def null_as(value: Any) -> BeforeValidator:
    """``null`` becomes ``value`` (an immutable default such as ``0``, ``False`` or an enum)."""
    return _null_as(lambda: value)


def null_as_new(factory: Callable[[], Any]) -> BeforeValidator:
    """``null`` becomes ``factory()`` (for mutable defaults such as a sub-object)."""
    return _null_as(factory)


class WireResponse(BaseModel):
    """A response object: strict construction (typos fail), exact keys out."""

    model_config = ConfigDict(
        extra="forbid",
        serialize_by_alias=True,
        validate_by_name=True,
        validate_by_alias=True,
    )


class WireRequest(BaseModel):
    """A request body: unknown keys ignored, like the real API."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON-ready dict of a response model (aliases, omission rules, RFC 3339 timestamps)."""
    return model.model_dump(mode="json", by_alias=True)


def wire_response(model: BaseModel, status_code: int = 200) -> Response:
    """The response of a route: ``to_wire``'s JSON, encoded once by pydantic-core (FastAPI
    passes a Response through as it is, without encoding the body again)."""
    body = model.model_dump_json(by_alias=True)
    return Response(body, status_code=status_code, media_type="application/json")


def json_response(body: Any, status_code: int = 200) -> Response:
    """The response of a route from wire dicts already in JSON form (controlplane/api/convert.py
    ``*_wire``): encoded by pydantic-core like ``wire_response``, byte for byte."""
    return Response(to_json(body), status_code=status_code, media_type="application/json")


class InstanceSetting(WireResponse):
    """``{"name", "value"}``; the value is always a string on the wire."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    name: str
    value: str


class EncryptionAtRest(WireResponse):
    model_config = ConfigDict(extra="ignore")

    enabled: Annotated[bool, null_as(False)] = False


class ScwFile(WireResponse):
    """``scaleway.std.File``: the certificate, ``content`` is the base64 of the PEM text."""

    name: str
    content_type: str
    content: str
