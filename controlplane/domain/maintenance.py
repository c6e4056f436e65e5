"""Maintenances an instance shows (pure): what is about to happen to it without user action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controlplane.certificates import RENEW_BEFORE, due_for_renewal


@dataclass(frozen=True)
class PendingMaintenance:
    reason: str
    starts_at: datetime
    stops_at: datetime


def pending(
    tls_expires_at: datetime | None, now: datetime | None = None
) -> list[PendingMaintenance]:
    if tls_expires_at is None or not due_for_renewal(tls_expires_at, now):
        return []
    return [
        PendingMaintenance(
            reason=(
                f"TLS certificate expires at {tls_expires_at.isoformat()}; it is renewed "
                "automatically (or now with renew-certificate). Download the new certificate."
            ),
            starts_at=tls_expires_at - RENEW_BEFORE,
            stops_at=tls_expires_at,
        )
    ]
