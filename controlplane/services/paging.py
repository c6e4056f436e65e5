"""The API's list arguments, checked once for every resource that pages."""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.domain.errors import InvalidArguments

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def page_size(order_by: str, orders: Iterable[str], page: int, size: int | None) -> int:
    """The page size to use; ``invalid_arguments`` for an unknown order or an out-of-range page."""
    known = sorted(orders)
    if order_by not in known:
        raise InvalidArguments.one("order_by", f"order_by must be one of {known}")
    if page < 1:
        raise InvalidArguments.one("page", "page starts at 1")
    chosen = size or DEFAULT_PAGE_SIZE
    if not 1 <= chosen <= MAX_PAGE_SIZE:
        raise InvalidArguments.one("page_size", f"page_size must be 1 to {MAX_PAGE_SIZE}")
    return chosen
