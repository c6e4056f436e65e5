"""Service tests make row-only instances (no containers); each module removes its own at the
end, so they never count as used host capacity for the tests that follow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import rows


@pytest.fixture(scope="module", autouse=True)
def _row_only_instances_removed(migrated_db: str) -> Iterator[None]:
    yield
    rows.remove_created()
