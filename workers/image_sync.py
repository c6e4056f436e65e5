"""Engine images reach every Docker host without a registry (issue 19).

The source daemon (where deploy/images/build.sh ran) holds our images, each labelled with its
recipe hash (workers/naming.py ``RECIPE_LABEL``). A host lacking an image with the same tag *and*
the same recipe hash gets it by ``docker save | docker load``, streamed chunk by chunk from one
daemon to the other (never the whole image in memory or on disk); a host already holding it costs
one inspect. Nothing ever pulls from a public registry.

``plan`` is the pure decision; ``sync`` observes and applies it. The Docker calls stay here, not in
workers/docker_driver.py, because they talk to several daemons at once, which that seam does not.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
import requests
import urllib3
from docker.errors import ImageNotFound

from workers.naming import RECIPE_LABEL

log = logging.getLogger(__name__)
OUR_PREFIX = "dbaas/"
CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceImage:
    tag: str
    recipe_hash: str


@dataclass(frozen=True)
class Copy:
    tag: str
    host: str


def plan(images: Iterable[SourceImage], held: Mapping[str, Mapping[str, str | None]]) -> list[Copy]:
    """What to copy where. ``held[host][tag]`` is the recipe hash of the host's image with that
    tag (None: no image, or one without a hash). Sorted by host, then tag."""
    wanted = sorted({(i.tag, i.recipe_hash) for i in images})
    return [
        Copy(tag, host)
        for host in sorted(held)
        for tag, recipe in wanted
        if held[host].get(tag) != recipe
    ]


def source_images(client: docker.DockerClient) -> list[SourceImage]:
    """Our tagged images on the source daemon (those carrying a recipe hash)."""
    found: list[SourceImage] = []
    for image in client.images.list(filters={"label": RECIPE_LABEL}):
        recipe = (image.labels or {}).get(RECIPE_LABEL, "")
        found.extend(SourceImage(t, recipe) for t in image.tags if t.startswith(OUR_PREFIX))
    return sorted(found, key=lambda i: i.tag)


def recipe_on(client: docker.DockerClient, tag: str) -> str | None:
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return None
    return (image.labels or {}).get(RECIPE_LABEL)


COPY_ATTEMPTS = 3


def copy(source: docker.DockerClient, target: docker.DockerClient, tag: str) -> None:
    """``docker save TAG | docker load`` between two daemons; the archive names the tag, so the
    target gets the same tag (and the same image id). A stream broken half-way (a busy daemon
    closing it) is sent again: a load keeps nothing of an incomplete archive."""
    for attempt in range(1, COPY_ATTEMPTS + 1):
        try:
            archive: Iterator[bytes] = source.api.get_image(tag, chunk_size=CHUNK)
            for message in target.api.load_image(archive):
                if "error" in message:
                    raise RuntimeError(f"loading {tag}: {message['error']}")
            return
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            if attempt == COPY_ATTEMPTS:
                raise
            log.warning("image %s: the copy broke (%s); again", tag, exc)


def sync(
    source: docker.DockerClient,
    hosts: Mapping[str, docker.DockerClient],
    tags: Collection[str] | None = None,
) -> list[Copy]:
    """Copy what is missing or stale on each host (only ``tags`` when given); returns what was
    copied. Hosts load in parallel, each one image at a time."""
    images = [i for i in source_images(source) if tags is None or i.tag in tags]
    held = {name: {i.tag: recipe_on(c, i.tag) for i in images} for name, c in hosts.items()}
    copies = plan(images, held)

    def to_host(host: str) -> None:
        for step in (c for c in copies if c.host == host):
            log.info("image %s -> %s", step.tag, step.host)
            copy(source, hosts[host], step.tag)

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        for done in [pool.submit(to_host, host) for host in sorted(hosts)]:
            done.result()
    return copies
