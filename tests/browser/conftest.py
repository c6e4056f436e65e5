"""Browser tests: headless Chromium from Debian, driven by Playwright, against the real API,
worker and monitor of the end-to-end tier (same fixtures, same clean-up of labelled leftovers)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import _clean_docker_leftovers, docker_client, rdb  # noqa: F401

CHROMIUM = (
    "/usr/bin/chromium"  # Debian's package (deploy/lab.sh); Playwright's download is not used
)
FLAGS = [
    "--no-sandbox",  # the tests may run as root
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # nothing but loopback
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run deploy/lab.sh (apt chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()
