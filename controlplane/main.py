"""The API application factory."""

from __future__ import annotations

import os

from fastapi import FastAPI

from controlplane import keyring
from controlplane.api.errors import install_error_handlers
from controlplane.api.limits import BodyLimit
from controlplane.api.prometheus import RequestFigures
from controlplane.api.routes import register_routes


def create_app() -> FastAPI:
    os.umask(0o077)
    keyring.current_keys()  # no key, no service: refuse to start rather than fail each request
    app = FastAPI(title="dbaas: Scaleway RDB v1 compatible API", version="0.1.0")
    install_error_handlers(app)
    register_routes(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestFigures)  # outermost: every answer is counted
    return app
