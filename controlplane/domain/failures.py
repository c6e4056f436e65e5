"""The two-word retry vocabulary shared by workers and agents (after kopf)."""

from __future__ import annotations


class TemporaryError(Exception):
    """Try again later: the world may change (a container still starting, Docker busy)."""

    def __init__(self, message: str, delay: float = 5.0):
        super().__init__(message)
        self.delay = delay


class Preempted(TemporaryError):
    """Another actor with priority (the HA monitor) needs the resource now: try again later,
    without counting it as a failed attempt."""


class HostUnreachable(TemporaryError):
    """A swarm host whose Docker daemon does not answer (down, cut off): the job waits for it
    to come back, without counting failed attempts (an operator who gives the host up removes
    it from the swarm; its nodes are then rebuilt elsewhere)."""

    def __init__(self, message: str, delay: float = 10.0):
        super().__init__(message, delay)


class PermanentError(Exception):
    """Retrying cannot help; the operation fails with this message shown to the user."""


class Cancelled(Exception):
    """The resource is being deleted: the job stops where it is and leaves the rest to the
    deletion (no failure is recorded on the resource)."""
