"""Operation texts shown to users lose internal names, addresses and paths."""

from __future__ import annotations

from controlplane.domain.redact import MAX_LENGTH, public_message

ID = "0b3140bc-890a-49a2-9484-6ae6094fef82"


def test_internal_details_are_removed() -> None:
    raw = (
        f'PostgreSQL not reachable: connection to server at "172.30.4.2", port 5432 failed: '
        f'FATAL: password authentication failed for user "_rdb_superadmin"; '
        f"dbaas-{ID}-n2 is not running; dbaas-{ID}-lb exited; network dbaas-{ID}; "
        f"mount /work/main/.var/volumes/dbaas-{ID}-n1-data failed; 10.0.0.1:9999"
    )
    shown = public_message(raw)
    assert shown is not None
    for leak in ("172.30.4.2", "_rdb_superadmin", ID, "/work/main", "10.0.0.1", "9999"):
        assert leak not in shown, (leak, shown)
    assert "node n2 is not running" in shown and "the load balancer exited" in shown
    assert "password authentication failed for user" in shown  # the meaning stays


def test_long_texts_are_cut_and_none_stays_none() -> None:
    assert public_message(None) is None
    shown = public_message("x" * 10_000)
    assert shown is not None and len(shown) == MAX_LENGTH
    assert public_message("copying n1 to n2 failed") == "copying n1 to n2 failed"
