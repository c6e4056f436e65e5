"""The log store on an S3-compatible object store (``DBAAS_LOG_STORE_URL=s3://bucket/prefix``).

Store keys live under the URL's key prefix in one bucket; ``put_object`` replaces an object
whole, so readers see the old object or the new one. Downloads are presigned GET URLs served
by the object store itself: the endpoint (``DBAAS_S3_ENDPOINT_URL``) must be reachable by the
users who are given them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from controlplane.logstore.base import LogStore, StoredObject

if TYPE_CHECKING:
    from controlplane.settings import Settings

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_NO_BUCKET = {"404", "NoSuchBucket", "NotFound"}
_BUCKET_TAKEN = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` as (bucket, prefix)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ValueError(f"not an s3://BUCKET[/PREFIX] URL: {url}")
    return bucket, prefix


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Store(LogStore):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str = "",
        access_key: str = "",
        secret_key: str = "",
        region: str = "us-east-1",
    ) -> None:
        """Empty endpoint or credentials: boto3's defaults (AWS, its credential chain)."""
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.region = region
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        bucket, prefix = parse_url(settings.log_store_url)
        store = cls(
            bucket,
            prefix,
            endpoint_url=settings.s3_endpoint_url,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
        )
        store.ensure_bucket()
        return store

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (idempotent, and safe when racing another)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in _NO_BUCKET:
                raise
        create: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":  # the one region S3 refuses to see named here
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**create)
        except ClientError as exc:
            if _error_code(exc) not in _BUCKET_TAKEN:
                raise

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: str) -> None:
        # multipart above boto3's threshold: one part in memory at a time
        self.client.upload_file(path, self.bucket, self._key(key))

    def _body(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if _error_code(exc) == "NoSuchKey":
                raise KeyError(key) from exc
            raise

    def get(self, key: str) -> bytes:
        with closing(self._body(key)) as body:  # the body's own `with` yields the raw stream
            data: bytes = body.read()
        return data

    def stream(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        with closing(self._body(key)) as body:
            yield from body.iter_chunks(chunk)

    def objects(self, prefix: str) -> list[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        found = [
            StoredObject(item["Key"].removeprefix(self.prefix), item["Size"])
            for page in pages
            for item in page.get("Contents", [])
        ]
        return sorted(found, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(k)} for k in batch], "Quiet": True},
            )
            if errors := response.get("Errors"):
                first = errors[0]
                raise OSError(
                    f"s3://{self.bucket}: {len(errors)} objects not deleted, first "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    def download_url(self, key: str, filename: str, expires_at: datetime) -> str:
        # rounded up: a link is good until ``expires_at``, not a second short of it
        seconds = math.ceil((expires_at - datetime.now(UTC)).total_seconds())
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._key(key),
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=max(1, seconds),
        )
        return url
