"""The one error path: every failure leaves the API as a Scaleway error body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.api.not_found import resource_of
from controlplane.domain.arguments import ArgumentError
from controlplane.domain.errors import ApiError, InvalidArguments, NotFound

log = logging.getLogger(__name__)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(status_code=error.status_code, content=error.body())


def _argument_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _reason(error_type: str) -> str:
    if error_type == "missing":
        return "required"
    if (
        error_type in ("json_invalid", "model_attributes_type", "dict_type")
        or "parsing" in error_type
    ):
        return "format"
    return "constraint"


def validation_to_invalid_arguments(exc: RequestValidationError) -> InvalidArguments:
    details = [
        ArgumentError(_argument_name(tuple(e.get("loc", ()))), _reason(e["type"]), e["msg"])
        for e in exc.errors()
    ]
    return InvalidArguments(details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_to_invalid_arguments(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:  # no route serves the path: still a resource and an id
            return error_response(NotFound(*resource_of(request.url.path)))
        kind = "invalid_request_error"
        return JSONResponse(
            status_code=exc.status_code, content={"type": kind, "message": str(exc.detail)}
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            status_code=500, content={"type": "internal_error", "message": "internal error"}
        )
