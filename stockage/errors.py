"""The errors of object storage, one hierarchy for every backend.

Messages are in English, for logs; they never carry credentials.
"""

from __future__ import annotations


class StorageError(Exception):
    """Object storage failed; the base of every error this package raises."""


class ObjectNotFound(StorageError):
    """No object is stored under the requested key."""


class InvalidKey(StorageError, ValueError):
    """The key (or prefix) breaks the key rules of `stockage.keys`."""


class StorageUnavailable(StorageError):
    """The storage cannot be reached: server down, DNS failure, timeout."""
