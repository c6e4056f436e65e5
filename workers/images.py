"""Engine images: which build each tag points at, the exact engine version inside each build,
and the build each instance is pinned to.

An instance's nodes run the image id pinned on its row (``Instance.image_id``), never "whatever
the tag is now": a rebuilt tag (``deploy/images/build.sh``) changes nothing running until the
instance's image-update maintenance moves the pin (workers/maintenance_jobs.py). Followers built
later (a rebuilt standby, a new replica) run the same build as their main node.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from agents.base import engine_version
from agents.registry import agent_for
from controlplane.catalog import find_engine_version, load_catalog
from controlplane.catalog.model import EngineVersion
from controlplane.db.base import utcnow
from controlplane.db.models import EngineImage, Instance
from controlplane.domain.failures import PermanentError
from controlplane.domain.maintenance import Image
from workers import docker_driver, naming

log = logging.getLogger(__name__)
RECIPE_LABEL = naming.RECIPE_LABEL


def newest(session: Session, version: EngineVersion) -> Image | None:
    """The build the version's tag points at now (None: the tag is missing on this host)."""
    info = docker_driver.image_info(version.image)
    if info is None:
        return None
    image = describe(session, version, info.image_id)
    for row in session.query(EngineImage).filter(EngineImage.tag == version.image):
        row.current = row.image_id == info.image_id
    return image


def describe(session: Session, version: EngineVersion, image_id: str) -> Image | None:
    """A build's facts, learned once per image id (its engine prints its version)."""
    row = session.get(EngineImage, image_id)
    if row is None:
        info = docker_driver.image_info(image_id)
        if info is None:
            return None
        command = agent_for(version.family.value).runtime(version.version).version_command
        output = docker_driver.image_output(image_id, command, naming.owner_labels())
        row = EngineImage(
            image_id=image_id,
            tag=version.image,
            recipe_hash=info.labels.get(RECIPE_LABEL, ""),
            engine_version=engine_version(output),
            current=False,
        )
        session.add(row)
        session.flush()
        log.info("image %s (%s): %s %s", image_id[:19], version.image, version.name,
                 row.engine_version)  # fmt: skip
    row.observed_at = utcnow()
    return Image(row.image_id, row.engine_version, row.recipe_hash)


def pin(instance: Instance) -> str:
    """The instance's image id, pinned on first use: the build its main node already runs (an
    instance from before pinning), else the tag's current build. The caller commits."""
    version = find_engine_version(load_catalog(), instance.engine)
    if version is None:
        raise PermanentError(f"{instance.engine} left the catalog")
    if instance.image_id:
        if docker_driver.image_info(instance.image_id) is not None:
            return instance.image_id
        # removed from the host (an image prune): the tag's build is the nearest there is
        log.warning("instance %s: its image %s is gone; moving to %s", instance.id,
                    instance.image_id[:19], version.image)  # fmt: skip
        instance.image_id = None
    primary = next((n.name for n in instance.nodes if n.role == "primary"), None)
    running = None
    if primary is not None:
        running = docker_driver.container_image(naming.node_container(instance.id, primary))
    if running is None:
        info = docker_driver.image_info(version.image)
        if info is None:
            raise PermanentError(f"image {version.image} is missing: run deploy/images/build.sh")
        running = info.image_id
    instance.image_id = running
    return running
