"""InstanceMetrics (GET /instances/{id}/metrics, deprecated upstream but still served).

Points are ``[RFC 3339 timestamp, number]`` arrays, as the real API and the Go SDK use them (the
Python SDK 2.12 cannot parse them: a known upstream bug, see scaleway-rdb-api.md 3.9).
"""

from __future__ import annotations

from controlplane.api.schemas.common import WireResponse


class TimeSeries(WireResponse):
    name: str
    points: list[tuple[str, float]]
    metadata: dict[str, str]


class InstanceMetrics(WireResponse):
    timeseries: list[TimeSeries]
