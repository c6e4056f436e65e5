"""A client that writes through an endpoint in a loop and remembers every acknowledged commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.e2e.clients import EngineClient


@dataclass
class WriteLoop:
    """Inserts increasing ids (from ``first_id``) through the endpoint; remembers each
    acknowledged commit and when it was acknowledged."""

    client: EngineClient
    host: str
    port: int
    user: str
    password: str
    first_id: int = 1
    acknowledged: list[int] = field(default_factory=list)
    acknowledged_at: list[float] = field(default_factory=list)  # monotonic
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        next_id = self.first_id - 1
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.client.connect(
                        self.host, self.port, self.user, self.password, timeout=2
                    )
                next_id += 1
                self.client.insert_committed(conn, next_id)
                self.acknowledged.append(next_id)  # only after the commit returned
                self.acknowledged_at.append(time.monotonic())
            except Exception:
                self.failures += 1
                conn = self.client.close_quietly(conn)
                time.sleep(0.05)
        self.client.close_quietly(conn)

    def wait_for_progress(self, after: int, timeout: float) -> float:
        """Seconds until a commit after ``after`` acknowledged rows succeeds."""
        start = time.monotonic()
        while len(self.acknowledged) <= after:
            assert time.monotonic() - start < timeout, "writes never resumed"
            time.sleep(0.02)
        return time.monotonic() - start

    def longest_stall(self, excluding: Sequence[tuple[float, float]] = ()) -> float:
        """The longest gap between two acknowledged commits that does not overlap one of the
        ``excluding`` windows (monotonic start, end): the stalls outside failovers."""
        gaps = [
            later - earlier
            for earlier, later in zip(self.acknowledged_at, self.acknowledged_at[1:], strict=False)
            if not any(earlier < end and later > start for start, end in excluding)
        ]
        return max(gaps, default=0.0)
