"""The web console in a real browser, against real instances: sign in, create a PostgreSQL HA
instance through the form and watch it become ready without reloading, connect with the
connection string and certificate the page gives, see a failover in the timeline after the main
node is killed, delete the instance by typing its name. Screenshots go to docs/console/."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from scaleway import ScalewayException, WaitForOptions
from scaleway.rdb.v1 import RdbV1API

from controlplane.db.session import session_scope
from controlplane.services import tenancy
from tests.e2e.conftest import instance_resources
from tests.support.ha import primary_container, wait_ha_again
from tests.support.tenants import Tenant, new_tenant

pytestmark = pytest.mark.docker
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
NAME = "console-pg"
USER = "console_admin"
PASSWORD = "Cons0le-pw!x"
READY_MS = 300_000


def wait() -> WaitForOptions:  # type: ignore[type-arg]
    return WaitForOptions(timeout=300, min_delay=1, max_delay=2)


class Console:
    """The module's one browser tab, and what the tests learn on the way."""

    def __init__(self, context: BrowserContext, api_url: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.api_url = api_url
        self.instance_id: str | None = None
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def console(
    browser: Browser, api_url: str, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[Console]:
    context = browser.new_context(
        base_url=api_url, accept_downloads=True, viewport={"width": 1280, "height": 860}
    )
    console = Console(context, api_url)
    try:
        yield console
    finally:
        context.close()
        # A test failed before the delete: remove what the form made through the API.
        for leftover in rdb.list_instances(name=NAME).instances:
            _gone(rdb, docker_client, leftover.id)
    # Offline: every request went to the API process itself (or stayed in the page).
    foreign = [u for u in console.requests if not u.startswith((api_url, "blob:", "data:"))]
    assert not foreign, foreign
    assert not console.errors, console.errors


def _gone(rdb: RdbV1API, docker_client: docker.DockerClient, instance_id: str) -> None:
    try:
        rdb.wait_for_instance(instance_id=instance_id, options=wait())
        rdb.delete_instance(instance_id=instance_id)
    except ScalewayException as exc:
        if exc.status_code != 404:
            raise
    with pytest.raises(ScalewayException) as gone:
        rdb.wait_for_instance(instance_id=instance_id, options=wait())
    assert gone.value.status_code == 404
    assert instance_resources(docker_client, instance_id) == {
        "containers": [],
        "networks": [],
        "volumes": [],
    }


def test_sign_in_refuses_a_wrong_key_and_loads_fast(console: Console, tenant: Tenant) -> None:
    page = console.page
    page.goto("/console/")  # the browser's own start-up is in this first load, not the page's
    page.reload()
    timing: Any = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    print(f"sign-in page: loaded in {timing['loadEventEnd']:.0f} ms")
    assert timing["loadEventEnd"] < 1000, timing  # well under a second
    expect(page.get_by_label("Secret key")).to_be_focused()
    console.shot("signin")

    page.get_by_label("Secret key").fill("00000000-0000-4000-8000-000000000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_have_text("This key is not accepted.")

    page.get_by_label("Secret key").fill(tenant.secret_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('dbaas.key')") == tenant.secret_key
    assert page.evaluate("localStorage.length") == 0  # the key is never kept beyond the tab


def test_the_form_shows_the_apis_errors_next_to_their_fields(console: Console) -> None:
    page = console.page
    page.get_by_role("link", name="Create an instance").click()
    expect(page.get_by_label("Node type")).to_contain_text("db-dev-s")
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_label("Admin user name").fill("pg_reserved")
    page.get_by_label("Admin password").fill("short")
    page.get_by_role("button", name="Create").click()

    expect(page.locator("#password-error")).to_contain_text("password must")
    expect(page.get_by_label("Admin password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#user_name-error")).to_contain_text("reserved")
    console.shot("create")


def test_an_ha_instance_made_in_the_form_becomes_ready_without_reload(
    console: Console, rdb: RdbV1API
) -> None:
    page = console.page
    page.get_by_label("Engine and version").select_option("PostgreSQL-17")
    page.get_by_label("Node type").select_option("db-dev-s")
    page.get_by_label("High availability").check()
    page.get_by_label("Admin user name").fill(USER)
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_label("Tags").fill("console, browser-test")
    page.get_by_label("Automatic daily backups").uncheck()
    page.evaluate("window.sameDocument = true")
    page.get_by_role("button", name="Create").click()

    row = page.locator(f'#instances tr[data-name="{NAME}"]')
    expect(row).to_be_visible()
    console.instance_id = row.get_attribute("data-id")
    assert console.instance_id
    expect(row.locator(".badge")).not_to_have_attribute("data-status", "ready")
    expect(row.locator(".badge")).to_have_attribute("data-status", "ready", timeout=READY_MS)
    assert page.evaluate("window.sameDocument") is True  # polled, never reloaded
    expect(row).to_contain_text("db-dev-s")
    expect(row).to_contain_text("browser-test")
    created = rdb.get_instance(instance_id=console.instance_id)
    assert created.is_ha_cluster and created.engine == "PostgreSQL-17"

    page.get_by_label("Filter by tag").fill("no-such-tag")
    expect(row).to_be_hidden()
    page.get_by_label("Filter by tag").fill("")
    page.get_by_label("Filter by name").fill("console")
    expect(row).to_be_visible()
    console.shot("instances")


def test_the_connection_string_and_certificate_connect(console: Console, tmp_path: Path) -> None:
    page = console.page
    page.get_by_role("link", name=NAME).click()
    snippet = page.locator('code.conn[data-kind="psql"]')
    expect(snippet).to_contain_text(f"user={USER}")
    command = snippet.inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the certificate").click()
    assert download.value.suggested_filename == "ssl_certificate.pem"
    ca_file = tmp_path / "ssl_certificate.pem"
    download.value.save_as(ca_file)

    argv = shlex.split(command)  # psql "host=... sslrootcert=ssl_certificate.pem"
    assert argv[0] == "psql" and "sslmode=verify-full" in argv[1]
    conninfo = argv[1].replace("sslrootcert=ssl_certificate.pem", f"sslrootcert={ca_file}")
    with psycopg.connect(conninfo, password=PASSWORD, connect_timeout=5) as conn:
        ssl = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert ssl == (True,)
    provisioned = page.locator('#timeline li[data-kind="provision_instance"]')
    expect(provisioned).to_contain_text("succeeded")
    expect(provisioned).to_contain_text(re.compile(r"steps: network [0-9.]+ s, "))
    console.shot("instance")


def test_a_failover_appears_in_the_timeline(
    console: Console, docker_client: docker.DockerClient
) -> None:
    assert console.instance_id
    page = console.page
    wait_ha_again(console.instance_id)
    docker_client.containers.get(primary_container(console.instance_id)).kill()
    failover = page.locator('#timeline li[data-kind="failover"]')
    expect(failover).to_be_visible(timeout=120_000)  # the page polls; no reload
    expect(failover).to_contain_text("succeeded", timeout=120_000)
    failover.scroll_into_view_if_needed()
    console.shot("timeline")


def test_metrics_charts_and_log_files(console: Console, tmp_path: Path) -> None:
    page = console.page
    page.get_by_label("Period").first.select_option(label="6 hours")
    page.get_by_role("button", name="Refresh").click()
    lines = page.locator(".chart polyline[points*=',']")  # at least one drawn point
    expect(lines.first).to_be_attached()
    expect(page.locator(".chart figcaption", has_text="cpu usage percent")).to_be_visible()

    page.get_by_role("button", name="Prepare log files").click()
    link = page.locator("#logs a", has_text="Download").first
    expect(link).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "log"
    download.value.save_as(saved)
    assert saved.stat().st_size > 0


def test_a_read_replica_is_added_and_deleted(console: Console) -> None:
    page = console.page
    page.get_by_role("button", name="Add a read replica").click()
    replica = page.locator("section[aria-labelledby='replicas-title'] tbody tr")
    expect(replica).to_have_count(1)
    expect(replica.locator(".badge")).to_have_attribute("data-status", "ready", timeout=READY_MS)
    expect(replica).to_contain_text(":")  # its direct-access endpoint
    made = page.locator('#timeline li[data-kind="provision_replica"]')
    expect(made).to_contain_text("succeeded")
    replica.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_label("Instance name").fill(NAME)
    page.get_by_role("dialog").get_by_role("button", name="Delete the read replica").click()
    expect(replica).to_have_count(0, timeout=READY_MS)


def test_users_databases_and_a_backup(console: Console) -> None:
    page = console.page
    add_db = page.locator("#add-database")
    add_db.get_by_label("Name").fill("shop")
    add_db.get_by_role("button", name="Add database").click()
    expect(page.locator('#databases li[data-name="shop"]')).to_be_visible()

    add_user = page.locator("#add-user")
    add_user.get_by_label("Name").fill("reader")
    add_user.get_by_label("Password").fill("Read3r-pw!x")
    add_user.get_by_role("button", name="Add user").click()
    expect(page.locator('#users li[data-name="reader"]')).to_contain_text("reader")
    add_user.get_by_label("Name").fill("pg_bad")
    add_user.get_by_label("Password").fill("Read3r-pw!x")
    add_user.get_by_role("button", name="Add user").click()
    expect(page.locator("#toast")).to_contain_text("reserved")  # the API's own message

    page.get_by_role("button", name="Delete database shop").click()
    page.get_by_role("dialog").get_by_label("Instance name").fill(NAME)
    page.get_by_role("dialog").get_by_role("button", name="Delete database shop").click()
    expect(page.locator('#databases li[data-name="shop"]')).to_have_count(0)

    page.locator("#add-backup").get_by_role("button", name="Back up now").click()
    backup = page.locator("#backups li").first
    expect(backup.locator(".badge")).to_have_attribute("data-status", "ready", timeout=120_000)


def test_the_project_switcher_lists_the_keys_projects(browser: Browser, api_url: str) -> None:
    owner = new_tenant("two-projects")
    with session_scope() as session:
        second = tenancy.create_project(session, owner.organization_id, "staging").id
    context = browser.new_context(base_url=api_url)
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.goto("/console/")
        page.get_by_label("Secret key").fill(owner.secret_key)
        page.get_by_role("button", name="Sign in").click()
        switcher = page.get_by_label("Project")
        expect(switcher.locator("option")).to_have_text(["default", "staging"])
        switcher.select_option(label="staging")
        expect(page.locator("#instances")).to_contain_text("No instance matches.")
        assert page.evaluate("sessionStorage.getItem('dbaas.project')") == second
        assert any(f"project_id={second}" in url for url in asked)
    finally:
        context.close()


def test_delete_asks_for_the_name_then_removes_everything(
    console: Console, rdb: RdbV1API, docker_client: docker.DockerClient
) -> None:
    instance_id = console.instance_id
    assert instance_id
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})  # the same page on a phone
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    console.shot("phone")
    page.set_viewport_size({"width": 1280, "height": 860})
    wait_ha_again(instance_id)  # the old main node is back as the standby
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete instance")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Instance name").fill(NAME + "x")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Instance name").fill(NAME)
    confirm.click()

    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    deadline = time.monotonic() + 300
    row = page.locator(f'#instances tr[data-id="{instance_id}"]')
    while row.count() and time.monotonic() < deadline:
        time.sleep(1)  # the list polls while the instance is deleting
    expect(row).to_have_count(0)
    _gone(rdb, docker_client, instance_id)
    console.instance_id = None
