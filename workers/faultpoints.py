"""Named pauses at the delicate moments of a job, for fault tests to kill a process there.

``DBAAS_FAULT_PAUSE="after_fence:10"`` makes ``pause("after_fence")`` sleep 10 s; unset (the
default, always in production) it does nothing. Read from the environment at each call, so only
the process started with it pauses.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)


def pause(point: str) -> None:
    spec = os.environ.get("DBAAS_FAULT_PAUSE", "")
    name, _, seconds = spec.partition(":")
    if spec and name == point:
        log.warning("fault point %s: pausing %s s", point, seconds)
        time.sleep(float(seconds or 0))
