"""The fault suite reuses the end-to-end fixtures: the official SDK, the Docker client, and the
clean-up of labelled leftovers."""

from tests.e2e.conftest import _clean_docker_leftovers, docker_client, rdb  # noqa: F401
