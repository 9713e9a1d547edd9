"""Object storage behind one interface: the local filesystem or an S3/MinIO bucket."""

from stockage.errors import InvalidKey, ObjectNotFound, StorageError, StorageUnavailable
from stockage.factory import open_store
from stockage.filesystem import FilesystemStore
from stockage.interface import ObjectStore, StoredObject
from stockage.keys import validate_key
from stockage.s3 import MinioStore
from stockage.stream import ObjectStream, ReadableStream

__all__ = [
    "FilesystemStore",
    "InvalidKey",
    "MinioStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStream",
    "ReadableStream",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "open_store",
    "validate_key",
]
