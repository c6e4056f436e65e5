"""The web console: static files served by the API process itself, nothing from elsewhere.

The page holds no server-side state and no privilege: it calls the same REST API with the key
the user typed (kept in the tab's sessionStorage). Only files present in controlplane/console/
at start-up are served, by exact name (no path is ever joined from the request). The CSP lets the
page load and call nothing but this origin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, RedirectResponse, Response

from controlplane.api.deps import SettingsDep
from controlplane.domain.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent.parent / "console"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated (ETag) so an upgrade is seen at once
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _assets() -> dict[str, Asset]:
    """Every file, read once at start-up (about 50 KB): answers cost no disk access, and an
    unchanged file is a 304 (the ETag is its content hash)."""
    found = {}
    for path in ROOT.iterdir():
        if path.is_file() and path.suffix in MEDIA_TYPES:
            body = path.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[path.name] = Asset(body, MEDIA_TYPES[path.suffix], etag)
    return found


ASSETS = _assets()
IfNoneMatch = Annotated[str | None, Header()]

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def console_root() -> Response:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
async def console_index(if_none_match: IfNoneMatch = None) -> Response:
    return _file("index.html", if_none_match)


@router.get("/console/config.json")
async def console_config(settings: SettingsDep) -> Response:
    return JSONResponse({"regions": settings.regions}, headers=HEADERS)


@router.get("/console/{name}")
async def console_file(name: str, if_none_match: IfNoneMatch = None) -> Response:
    return _file(name, if_none_match)


def _file(name: str, if_none_match: str | None) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound("console_file", name)
    headers = {**HEADERS, "ETag": asset.etag}
    if if_none_match and asset.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
