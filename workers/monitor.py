"""The HA monitor: a dedicated loop that watches every HA instance's nodes every second.

Each tick observes (Docker state of the nodes, one SQL round trip to the main node, the standby's
replication state as the main node reports it), lets ``ha_policy.decide`` pick an action with a
readable reason, and carries it out through ``ha.act``. Actions take the instance's lock, so two
monitors (or a monitor and a job) never act on one instance at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.db.models import Instance
from controlplane.domain.states import InstanceStatus
from workers import ha
from workers.ha_policy import TICK_SECONDS, Action, Counters, Decision, decide

log = logging.getLogger(__name__)
# Serving statuses: a job changing an instance (a rolling restart, an upgrade) does not stop
# the monitor; it yields the instance when the monitor needs it (workers/preemption.py).
WATCHED = (
    InstanceStatus.READY,
    InstanceStatus.AUTOHEALING,
    InstanceStatus.CONFIGURING,
    InstanceStatus.RESTARTING,
    InstanceStatus.INITIALIZING,
    InstanceStatus.SNAPSHOTTING,  # the copy is read while the instance keeps serving
)


@dataclass
class Monitor:
    sessions: sessionmaker[Session]
    counters: dict[str, Counters] = field(default_factory=dict)

    def watched(self) -> list[str]:
        with self.sessions() as session:
            statuses = [s.value for s in WATCHED]
            rows = session.scalars(
                select(Instance.id).where(
                    Instance.is_ha_cluster.is_(True), Instance.status.in_(statuses)
                )
            ).all()
        return list(rows)

    def tick(self) -> dict[str, Decision]:
        decisions = {}
        watched = self.watched()
        for gone in set(self.counters) - set(watched):
            del self.counters[gone]
        for instance_id in watched:
            try:
                obs = ha.observe(self.sessions, instance_id)
                if obs is None:
                    continue
                decision = decide(obs, self.counters.setdefault(instance_id, Counters()))
                decisions[instance_id] = decision
                if decision.action != Action.NONE:
                    log.warning("instance %s: %s", instance_id, decision.reason)
                    if ha.act(self.sessions, instance_id, decision.action, decision.reason):
                        self.counters.pop(instance_id, None)
            except Exception:  # one broken instance must not blind the monitor to the others
                log.exception("monitoring %s failed", instance_id)
        return decisions

    def run_forever(self, tick_seconds: float = TICK_SECONDS) -> None:
        log.info("HA monitor started")
        while True:
            started = time.monotonic()
            self.tick()
            time.sleep(max(0.0, tick_seconds - (time.monotonic() - started)))


def main() -> None:
    from controlplane.db.session import session_factory

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    Monitor(session_factory()).run_forever()


if __name__ == "__main__":
    main()
