"""Errors a use case can raise; each maps to one Scaleway error body (see api/errors.py)."""

from __future__ import annotations

from typing import Any

from controlplane.domain.arguments import ArgumentError


class ApiError(Exception):
    status_code = 500
    error_type = "internal_error"
    message = "internal error"

    def body(self) -> dict[str, Any]:
        return {"type": self.error_type, "message": self.message}


class InvalidArguments(ApiError):
    status_code = 400
    error_type = "invalid_arguments"
    message = "invalid argument(s)"

    def __init__(self, details: list[ArgumentError]):
        super().__init__(details)
        self.details = details

    @classmethod
    def one(
        cls, argument_name: str, help_message: str, reason: str = "constraint"
    ) -> InvalidArguments:
        return cls([ArgumentError(argument_name, reason, help_message)])

    def body(self) -> dict[str, Any]:
        """Texts are capped: a message quoting a megabyte of input must not echo it back."""
        return {
            **super().body(),
            "details": [
                {
                    "argument_name": _capped(d.argument_name, 200),
                    "reason": d.reason,
                    "help_message": _capped(d.help_message, 300),
                }
                for d in self.details[:50]
            ],
        }


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotFound(ApiError):
    status_code = 404
    error_type = "not_found"
    message = "resource is not found"

    def __init__(self, resource: str, resource_id: str):
        super().__init__(resource, resource_id)
        self.resource = resource
        self.resource_id = resource_id

    def body(self) -> dict[str, Any]:
        resource_id = _capped(self.resource_id, 200)
        return {**super().body(), "resource": self.resource, "resource_id": resource_id}


class TransientState(ApiError):
    status_code = 409
    error_type = "transient_state"
    message = "resource is in a transient state"

    def __init__(self, resource: str, resource_id: str, current_state: str):
        super().__init__(resource, resource_id, current_state)
        self.resource = resource
        self.resource_id = resource_id
        self.current_state = current_state

    def body(self) -> dict[str, Any]:
        return {
            **super().body(),
            "resource": self.resource,
            "resource_id": self.resource_id,
            "current_state": self.current_state,
        }


class PreconditionFailed(ApiError):
    status_code = 412
    error_type = "precondition_failed"
    message = "precondition is not respected"

    def __init__(self, help_message: str, precondition: str = "unknown_precondition"):
        super().__init__(help_message)
        self.help_message = help_message
        self.precondition = precondition

    def body(self) -> dict[str, Any]:
        return {
            **super().body(),
            "precondition": self.precondition,
            "help_message": self.help_message,
        }


class PermissionsDenied(ApiError):
    status_code = 403
    error_type = "permissions_denied"
    message = "insufficient permissions"

    def __init__(self, resource: str, action: str = "read"):
        super().__init__(resource, action)
        self.resource = resource
        self.action = action

    def body(self) -> dict[str, Any]:
        return {**super().body(), "details": [{"action": self.action, "resource": self.resource}]}


class DeniedAuthentication(ApiError):
    status_code = 401
    error_type = "denied_authentication"
    message = "authentication is denied"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {**super().body(), "method": "api_key", "reason": self.reason}


class QuotasExceeded(ApiError):
    status_code = 403
    error_type = "quotas_exceeded"
    message = "quota(s) exceeded for this resource"

    def __init__(self, resource: str, current: int, quota: int):
        super().__init__(resource, current, quota)
        self.resource = resource
        self.current = current
        self.quota = quota

    def body(self) -> dict[str, Any]:
        detail = {"resource": self.resource, "current": self.current, "quota": self.quota}
        return {**super().body(), "details": [detail]}


class OutOfStock(ApiError):
    status_code = 412
    error_type = "out_of_stock"
    message = "resource is out of stock"

    def __init__(self, resource: str):
        super().__init__(resource)
        self.resource = resource

    def body(self) -> dict[str, Any]:
        return {**super().body(), "resource": self.resource}
