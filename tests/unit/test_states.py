from __future__ import annotations

import pytest

from controlplane.domain import states
from controlplane.domain.states import InstanceStatus, InvalidTransition


def test_every_instance_status_has_a_row() -> None:
    assert set(states.INSTANCE_TRANSITIONS) == set(InstanceStatus)
    assert set(states.REPLICA_TRANSITIONS) == set(states.ReadReplicaStatus)


def test_transient_statuses_match_the_sdk_waiters() -> None:
    from scaleway.rdb.v1.content import INSTANCE_TRANSIENT_STATUSES

    assert {s.value for s in states.INSTANCE_TRANSIENT} == {
        str(s) for s in INSTANCE_TRANSIENT_STATUSES
    }


def test_provisioning_path_and_forbidden_moves() -> None:
    assert states.check_instance_transition("provisioning", "initializing") == "initializing"
    assert states.check_instance_transition("initializing", "ready") == "ready"
    with pytest.raises(InvalidTransition):
        states.check_instance_transition("deleting", "ready")
    with pytest.raises(InvalidTransition):
        states.check_operation_transition("succeeded", "running")
