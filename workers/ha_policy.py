"""The HA monitor's decisions, as a pure function of what it observed (Patroni-style).

- the main node is dead (container not running) or fails ``PRIMARY_FAILURES`` probes in a row,
  and the standby is eligible (the instance is in ``sync`` mode, so every acknowledged commit is
  on it) → fail over;
- the main node is dead but no standby is eligible → heal the main node in place;
- the standby has not been streaming for ``STANDBY_FAILURES`` ticks → degrade to asynchronous
  (the main node keeps serving) and rebuild the standby.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PRIMARY_FAILURES = 2
STANDBY_FAILURES = 3
TICK_SECONDS = 0.5


class Action(StrEnum):
    NONE = "none"
    FAILOVER = "failover"
    HEAL_PRIMARY = "heal_primary"
    DEGRADE = "degrade"


@dataclass(frozen=True)
class Observation:
    primary_running: bool
    primary_answers: bool
    standby_running: bool
    standby_streaming: bool
    standby_rebuilding: bool
    sync_mode: str  # sync | degraded


@dataclass
class Counters:
    primary_failures: int = 0
    standby_failures: int = 0


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""


def decide(obs: Observation, counters: Counters) -> Decision:
    """Pure: updates the failure counters from one observation and picks an action."""
    if obs.primary_running and obs.primary_answers:
        counters.primary_failures = 0
    else:
        counters.primary_failures += PRIMARY_FAILURES if not obs.primary_running else 1
    if obs.standby_streaming or obs.standby_rebuilding:
        counters.standby_failures = 0
    else:
        counters.standby_failures += 1

    if counters.primary_failures >= PRIMARY_FAILURES:
        what = "stopped" if not obs.primary_running else "not answering"
        if obs.sync_mode == "sync" and obs.standby_running and not obs.standby_rebuilding:
            return Decision(Action.FAILOVER, f"main node {what}; promoting the standby")
        return Decision(Action.HEAL_PRIMARY, f"main node {what}; no standby in sync to promote")
    if (
        counters.standby_failures >= STANDBY_FAILURES
        and obs.sync_mode == "sync"
        and obs.primary_running
        and obs.primary_answers
    ):
        return Decision(Action.DEGRADE, "standby not streaming; main node continues alone")
    return Decision(Action.NONE)
