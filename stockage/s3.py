"""Objects in an S3 bucket (MinIO in production) through the `minio` client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar, cast

import urllib3
from minio import Minio
from minio.error import S3Error

from stockage.errors import ObjectNotFound, StorageError, StorageUnavailable
from stockage.interface import StoredObject
from stockage.keys import validate_key, validate_prefix
from stockage.stream import DigestingReader, ObjectStream, ReadableStream

PART_BYTES = 8 * 1024 * 1024
MISSING_CODES = {"NoSuchKey", "NoSuchObject"}
T = TypeVar("T")


class MinioStore:
    """One bucket, created on first use if missing; network failures become StorageUnavailable."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = True,
        region: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self._scheme = "https" if secure else "http"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
            maxsize=10,
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._bucket_ready = False
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"s3 {self._scheme}://{self.endpoint}/{self.bucket}"

    def put(self, key: str, stream: ReadableStream, *, digest: bool = True) -> StoredObject:
        """Stream into the bucket as a multipart upload of unknown length.

        S3 makes an object visible only once its upload completes, and the minio client
        aborts the multipart upload when the stream fails, so no partial object is seen.
        """
        validate_key(key)
        self._ensure_bucket()
        reader = DigestingReader(stream, digest)
        try:
            self._call(
                lambda: self._client.put_object(
                    self.bucket,
                    key,
                    cast(BinaryIO, reader),  # minio only calls read(size)
                    length=-1,
                    part_size=PART_BYTES,
                    num_parallel_uploads=1,
                )
            )
        except StorageError as exc:
            if reader.source_error is not None:
                raise reader.source_error from None
            raise exc
        return StoredObject(key=key, size=reader.size, sha256=reader.hexdigest())

    def open(self, key: str) -> ObjectStream:
        """Open the object for reading; raise `ObjectNotFound` if there is none."""
        validate_key(key)
        self._ensure_bucket()
        response = self._call(lambda: self._client.get_object(self.bucket, key), key)

        def fill(view: memoryview) -> int:
            try:
                return response.readinto(view)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise StorageUnavailable(f"object read interrupted: {type(exc).__name__}") from None

        def release() -> None:
            response.close()
            response.release_conn()

        return ObjectStream(fill=fill, release=release)

    def delete(self, key: str) -> None:
        validate_key(key)
        self._ensure_bucket()
        self._call(lambda: self._client.remove_object(self.bucket, key))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._ensure_bucket()
        try:
            self._call(lambda: self._client.stat_object(self.bucket, key), key)
        except ObjectNotFound:
            return False
        return True

    def keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        self._ensure_bucket()
        listing = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        iterator = iter(listing)
        while True:
            item = self._call(lambda: next(iterator, None))
            if item is None:
                return
            if item.object_name is not None:
                yield item.object_name

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock:
            if not self._call(lambda: self._client.bucket_exists(self.bucket)):
                self._call(self._make_bucket)
            self._bucket_ready = True

    def _make_bucket(self) -> None:
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            # Another process created it between our check and our request: that is fine.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _call(self, operation: Callable[[], T], key: str | None = None) -> T:
        try:
            return operation()
        except S3Error as exc:
            if exc.code in MISSING_CODES and key is not None:
                raise ObjectNotFound(f"no object under key {key!r}") from None
            raise StorageError(f"object storage refused the operation ({exc.code})") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(
                f"object storage unreachable at {self.describe()}: {type(exc).__name__}"
            ) from None
