"""What an internal error may tell a user (pure): no addresses, no service account names, no
container names or host paths, and not too long. The full text stays in the operation row."""

from __future__ import annotations

import re

MAX_LENGTH = 500
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_RULES = [
    (re.compile(rf"\b[a-z][\w.]*-{_UUID}-(n\d+|r\d+)(?:-[a-z]+)?\b"), r"node \1"),
    (re.compile(rf"\b[a-z][\w.]*-{_UUID}-lb\b"), "the load balancer"),
    (re.compile(rf"\b[a-z][\w.]*-{_UUID}\b"), "the instance network"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<address>"),
    (re.compile(r"\b_rdb_\w+"), "the service account"),
    (re.compile(r"(?<![\w.])(?:/[\w.@+-]+){3,}/?"), "<path>"),
]


def public_message(text: str | None) -> str | None:
    if text is None:
        return None
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"
