"""Requests sent the way the other official clients send them, for replaying their bodies with
plain HTTP (scaleway-rdb-api.md sections 1.2 and 5):

* Go (``scw`` CLI, Terraform): ``X-Auth-Token``, ``Content-Type: application/json`` whenever there
  is a body (the two DELETE-with-body calls included), no body on GET or plain DELETE, every
  enum and bool query parameter sent with its default.
* Python 2.12.0: a ``{}`` body on every request, GET and DELETE included, and on GET/DELETE no
  Content-Type at all; booleans in queries as ``True``/``False``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.tenants import Tenant

BASE = "/rdb/v1/regions/fr-par"
GO_AGENT = "scaleway-sdk-go/v1.0.0-beta.7+dev (go1.25.3; linux; amd64) terraform-provider/develop"
PY_AGENT = "scaleway-sdk-python/2.12.0"


class Clients:
    """Both styles against one API, as one tenant."""

    def __init__(self, api_url: str, tenant: Tenant) -> None:
        self.http = httpx.Client(base_url=api_url + BASE, timeout=60)
        self.tenant = tenant

    def go(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.tenant.secret_key, "User-Agent": GO_AGENT}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body)
        return self.http.request(method, path, headers=headers, content=content, params=params)

    def python(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        headers = {"x-auth-token": self.tenant.secret_key, "user-agent": PY_AGENT}
        if method in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = "application/json; charset=utf-8"
        query = {k: str(v) if isinstance(v, bool) else v for k, v in params.items()}
        content = json.dumps({} if body is None else body)
        return self.http.request(method, path, headers=headers, content=content, params=query)

    def close(self) -> None:
        self.http.close()


def json_of(response: httpx.Response, status: int = 200) -> Any:
    """The JSON answer, which must have the status and the exact JSON content type (the JS
    SDK parses a body only then; Go only when it starts with application/json)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/json", response.headers
    assert "x-total-count" not in response.headers  # Python would copy it in, as a string
    return response.json()


def empty(response: httpx.Response) -> None:
    """204 with nothing in it."""
    assert response.status_code == 204, f"{response.status_code}: {response.text}"
    assert response.content == b""
