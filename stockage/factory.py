"""Choose the object store from STORAGE_URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from stockage.filesystem import FilesystemStore
from stockage.interface import ObjectStore
from stockage.s3 import MinioStore


def open_store(url: str) -> ObjectStore:
    """`file:///path`, `file:relative`, a plain path, or `s3://KEY:SECRET@host:port/bucket`."""
    if url.startswith("s3://"):
        return _minio(url)
    if url.startswith("file:"):
        path = unquote(url.removeprefix("file://") if url.startswith("file://") else url[5:])
        if not path:
            raise ValueError("a file: STORAGE_URL needs a folder path")
        return FilesystemStore(Path(path))
    if "://" not in url and url:
        return FilesystemStore(Path(url))
    raise ValueError("STORAGE_URL must start with file:// or s3:// (or be a folder path)")


def _minio(url: str) -> MinioStore:
    parts = urlsplit(url)
    bucket = parts.path.strip("/")
    if not (parts.hostname and parts.username and parts.password and bucket) or "/" in bucket:
        raise ValueError("an s3:// STORAGE_URL needs s3://ACCESS:SECRET@host:port/bucket")
    options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    secure = options.get("secure", "true").lower() not in ("false", "0", "no")
    # urlsplit drops the brackets of an IPv6 address, which minio needs back.
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    endpoint = host + (f":{parts.port}" if parts.port else "")
    return MinioStore(
        endpoint,
        unquote(parts.username),
        unquote(parts.password),
        bucket,
        secure=secure,
        region=options.get("region"),
    )
