"""Off-site copies on S3-compatible object storage (AWS S3, MinIO, Ceph, a cloud's OSS…).

Configured with ``LIBCRM_BACKUP_S3_URL=s3://bucket/prefix`` and, for anything but AWS itself,
``LIBCRM_BACKUP_S3_ENDPOINT=https://…``; credentials come the usual boto3 way
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or a profile). Uploads are multipart, so an
interrupted upload never leaves a visible object; the archive's SHA-256 travels as object
metadata and is checked again after download.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings


class OffsiteError(Exception):
    pass


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.LIBCRM_BACKUP_S3_ENDPOINT or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise OffsiteError(f"{uri!r} is not an s3://bucket/key address")
    return parsed.netloc, parsed.path.lstrip("/")


def upload(path: Path, sha256: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = _split(settings.LIBCRM_BACKUP_S3_URL)
    key = f"{prefix.rstrip('/')}/{path.name}" if prefix else path.name
    try:
        _client().upload_file(str(path), bucket, key, ExtraArgs={"Metadata": {"sha256": sha256}})
    except (BotoCoreError, ClientError) as exc:
        raise OffsiteError(f"upload to s3://{bucket}/{key} failed: {exc}") from exc
    return f"s3://{bucket}/{key}"


def list_offsite() -> list[dict[str, Any]]:
    """Archives in the configured bucket and prefix, newest first."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not settings.LIBCRM_BACKUP_S3_URL:
        return []
    bucket, prefix = _split(settings.LIBCRM_BACKUP_S3_URL)
    try:
        pages = _client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        rows = [
            {"uri": f"s3://{bucket}/{item['Key']}", "size": item["Size"]}
            for page in pages
            for item in page.get("Contents", [])
        ]
    except (BotoCoreError, ClientError) as exc:
        raise OffsiteError(f"listing s3://{bucket}/{prefix} failed: {exc}") from exc
    return sorted(rows, key=lambda row: row["uri"], reverse=True)


def download(uri: str, target: Path) -> Path:
    from botocore.exceptions import BotoCoreError, ClientError

    from libcrm.backup.archive import TamperedArchive

    bucket, key = _split(uri)
    client = _client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        client.download_file(bucket, key, str(target))
    except (BotoCoreError, ClientError) as exc:
        raise OffsiteError(f"download of {uri} failed: {exc}") from exc
    expected = head.get("Metadata", {}).get("sha256")
    if expected:
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise TamperedArchive(f"{uri} does not match the checksum recorded at upload")
    return target
