"""What an API process does once it has started."""

from __future__ import annotations

import asyncio
import gc

from controlplane.main import create_app


def test_the_objects_made_to_start_are_out_of_the_collectors_sight(migrated_db: str) -> None:
    """Frozen at startup (controlplane/main.py): full collections no longer walk them."""
    gc.unfreeze()

    async def started() -> int:
        app = create_app()
        assert gc.get_freeze_count() == 0
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    try:
        assert asyncio.run(started()) > 50_000  # modules, routes, schemas, mappers
    finally:
        gc.unfreeze()
