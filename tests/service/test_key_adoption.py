"""A store written in development mode (the public key) moves to the key file's key when
`dbaas init-key` first runs: upgraded deployments keep every secret readable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane import keyring, secrets
from controlplane.db.models import Instance
from controlplane.services import key_rotation, tenancy
from controlplane.settings import DEV_ENCRYPTION_KEY, get_settings
from tests.support.stores import fresh_sqlite, migrated


@pytest.fixture()
def dev_mode_without_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "secrets" / "encryption.key"
    monkeypatch.setenv("DBAAS_ENCRYPTION_KEY_FILE", str(path))
    monkeypatch.setenv("DBAAS_DEV_MODE", "true")
    get_settings.cache_clear()
    yield path
    monkeypatch.undo()
    get_settings.cache_clear()


def test_secrets_under_the_public_key_are_moved(tmp_path: Path, dev_mode_without_key: Path) -> None:
    sessions = migrated(fresh_sqlite(tmp_path))
    with sessions() as session:
        org = tenancy.create_organization(session, "old")
        project = tenancy.create_project(session, org.id, "default")
        row = Instance(
            organization_id=org.id, project_id=project.id, region="fr-par", name="old",
            engine="PostgreSQL-15", node_type="db-dev-s", status="ready", volume_type="lssd",
            volume_size=0, superuser_secret=secrets.encrypt("su-password"),
            replication_secret=secrets.encrypt("repl-password"),
        )  # fmt: skip
        session.add(row)
        session.commit()
        token = row.superuser_secret
    assert secrets.decrypt_with(DEV_ENCRYPTION_KEY, token) == "su-password"

    assert keyring.ensure_key_file() is True
    assert key_rotation.adopt_development_key(sessions) == 2
    assert key_rotation.adopt_development_key(sessions) == 0  # nothing left to move
    with sessions() as session:
        moved = session.get(Instance, row.id)
        assert moved is not None
        assert secrets.decrypt(moved.superuser_secret) == "su-password"
        with pytest.raises(ValueError):
            secrets.decrypt_with(DEV_ENCRYPTION_KEY, moved.superuser_secret)
    assert len(keyring.read_key_file(dev_mode_without_key)) == 1
