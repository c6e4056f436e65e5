"""What only the S3 store does: presigned downloads (served by the object store, to anyone
holding the URL, refused when tampered with or expired), its URL and settings, its batches."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from controlplane.logstore.base import StoredObject
from controlplane.logstore.s3 import S3Store, parse_url
from controlplane.settings import Settings
from tests.logstore.conftest import S3Server

KEY = "exports/0b6c8a8e-log.log"
FILENAME = "postgresql-node-0-2026-11-30.log"


def changed(url: str, parameter: str) -> str:
    """The same URL with one character of one query parameter changed."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    value = query[parameter]
    query[parameter] = value[:-2] + ("0" if value[-2] != "0" else "1") + value[-1]
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://logs", "logs", ""),
        ("s3://logs/", "logs", ""),
        ("s3://logs/dbaas/prod/", "logs", "dbaas/prod/"),
    ],
)
def test_parse_url(url: str, bucket: str, prefix: str) -> None:
    assert parse_url(url) == (bucket, prefix)


@pytest.mark.parametrize("url", ["s3://", "s3:///logs", "file:///var/logs", "logs"])
def test_parse_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="s3://BUCKET"):
        parse_url(url)


def test_the_store_prefix_is_one_folder_whatever_its_slashes() -> None:
    assert S3Store("b", "/a/b/").prefix == "a/b/"
    assert S3Store("b", "a/b").prefix == "a/b/"
    assert S3Store("b", "/").prefix == ""


def test_a_download_url_serves_the_object_to_anyone_as_the_file_name(s3_store: S3Store) -> None:
    s3_store.put(KEY, b"2026-11-30 12:00:00 UTC LOG:  ready\n")
    url = s3_store.download_url(KEY, FILENAME, datetime.now(UTC) + timedelta(hours=24))

    response = httpx.get(url)

    assert response.status_code == 200
    assert response.content == b"2026-11-30 12:00:00 UTC LOG:  ready\n"
    assert response.headers["content-disposition"] == f'attachment; filename="{FILENAME}"'


@pytest.mark.parametrize("parameter", ["X-Amz-Signature", "response-content-disposition"])
def test_a_tampered_download_url_is_refused(s3_store: S3Store, parameter: str) -> None:
    s3_store.put(KEY, b"secret lines")
    url = s3_store.download_url(KEY, FILENAME, datetime.now(UTC) + timedelta(hours=1))
    assert httpx.get(url).status_code == 200

    response = httpx.get(changed(url, parameter))

    assert response.status_code == 403
    assert b"secret lines" not in response.content


def test_an_expired_download_url_is_refused(s3_store: S3Store) -> None:
    s3_store.put(KEY, b"secret lines")
    url = s3_store.download_url(KEY, FILENAME, datetime.now(UTC) + timedelta(seconds=3))
    assert httpx.get(url).status_code == 200

    time.sleep(4.5)
    response = httpx.get(url)

    assert response.status_code == 403
    assert b"secret lines" not in response.content


def test_wrong_credentials_are_refused(s3_server: S3Server, s3_store: S3Store) -> None:
    """The server checks signatures, so the refusals above are the server's."""
    intruder = s3_server.store(s3_store.bucket, s3_store.prefix, secret_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        intruder.put(KEY, b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_stores_under_other_prefixes_do_not_see_each_other(s3_server: S3Server) -> None:
    bucket = f"shared-{uuid.uuid4().hex[:12]}"
    ours, theirs = s3_server.store(bucket, "ours"), s3_server.store(bucket, "ours-too")
    ours.ensure_bucket()
    ours.put("logs/a.gz", b"a")
    theirs.put("logs/b.gz", b"b")

    assert [o.key for o in ours.objects("")] == ["logs/a.gz"]
    assert [o.key for o in s3_server.store(bucket).objects("")] == [
        "ours-too/logs/b.gz",
        "ours/logs/a.gz",
    ]
    ours.delete_prefix("")
    assert [o.key for o in theirs.objects("")] == ["logs/b.gz"]


def test_more_objects_than_a_page_are_listed_and_deleted(s3_store: S3Store) -> None:
    keys = [f"logs/i1/n/2026-11-30/chunks/{i:05d}-0.gz" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3_store.put(key, b"x"), keys))
    s3_store.put("logs/i2/n/kept.gz", b"y")

    assert [o.key for o in s3_store.objects("logs/i1/")] == keys
    s3_store.delete_prefix("logs/i1/")
    assert [o.key for o in s3_store.objects("")] == ["logs/i2/n/kept.gz"]


def test_from_settings_creates_the_bucket_once_and_keys_land_under_the_prefix(
    s3_server: S3Server,
) -> None:
    bucket = f"settings-{uuid.uuid4().hex[:12]}"
    settings = Settings(
        log_store_url=f"s3://{bucket}/dbaas/prod",
        s3_region="fr-par",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
    )
    store = S3Store.from_settings(settings)
    store.put("logs/i1/n/a.gz", b"abc")

    again = S3Store.from_settings(settings)  # the bucket exists now: no error

    assert again.get("logs/i1/n/a.gz") == b"abc"
    assert s3_server.store(bucket).objects("") == [StoredObject("dbaas/prod/logs/i1/n/a.gz", 3)]
