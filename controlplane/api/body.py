"""Request bodies parsed leniently: the Python SDK sends ``{}`` on GET/DELETE, and DELETE bodies
without a Content-Type; FastAPI's own body parsing would refuse those."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from controlplane.domain.errors import InvalidArguments

M = TypeVar("M", bound=BaseModel)


async def parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise InvalidArguments.one("body", f"the body is not valid JSON: {exc}", "format") from exc
    except (ValueError, RecursionError) as exc:  # not UTF-8, a 5,000-digit number, too deep
        raise InvalidArguments.one(
            "body", "the body is not JSON this API accepts (UTF-8, numbers, nesting)", "format"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidArguments.one("body", "the body must be a JSON object", "format")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from exc
