"""Objects as files under one root directory, written atomically.

Layout: ``root/objects/<h[0:2]>/<h[2:4]>/<file name>`` where h is the SHA-256 of the
key, so that no directory grows past a few thousand entries. The file name is the key
with each "/" written as a backslash, which keys never hold: a key's "/" never becomes
a directory, and the name is exactly as long as the key, so every legal key (at most
255 UTF-8 bytes) fits the 255-byte file name limit of Linux filesystems. Uploads are
written to ``root/.tmp/`` (same filesystem, so the final `os.replace` is atomic) and
only moved into place once complete and synced.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from stockage.errors import InvalidKey, ObjectNotFound, StorageError
from stockage.interface import StoredObject
from stockage.keys import validate_key, validate_prefix
from stockage.stream import CHUNK_SIZE, DigestingReader, ObjectStream, ReadableStream

_DIRECTORY_MODE = 0o700


class FilesystemStore:
    """An `ObjectStore` in a local directory, created (mode 0700) if missing."""

    def __init__(self, root: Path) -> None:
        try:
            root.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
            self._root = root.resolve(strict=True)
            self._objects = self._root / "objects"
            self._temporary = self._root / ".tmp"
            self._objects.mkdir(mode=_DIRECTORY_MODE, exist_ok=True)
            self._temporary.mkdir(mode=_DIRECTORY_MODE, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot prepare the filesystem store at {root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self._root)!r})"

    def describe(self) -> str:
        """A short description for logs: the backend and its root."""
        return f"filesystem {self._root}"

    def put(self, key: str, stream: ReadableStream, *, digest: bool = True) -> StoredObject:
        """Store the stream under key: written to a temporary file, synced, then renamed."""
        path = self._path_for(validate_key(key))
        self._refuse_symbolic_link(self._temporary, "uploads")
        reader = DigestingReader(stream, digest)
        try:
            self._make_shard(path.parent)
            temporary = self._write_temporary(reader)
            try:
                temporary.replace(path)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            _fsync_directory(path.parent)
        except OSError as exc:
            if reader.raised(exc):
                raise
            raise self._failure(f"cannot store {key!r}", exc) from exc
        return StoredObject(key=key, size=reader.size, sha256=reader.hexdigest())

    def open(self, key: str) -> ObjectStream:
        """Open the object for reading; raise `ObjectNotFound` if there is none."""
        path = self._path_for(validate_key(key))
        try:
            # O_NOFOLLOW: a symbolic link planted under the root must not lead outside it.
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"no object under key {key!r} in {self.describe()}") from exc
        except OSError as exc:
            raise self._failure(f"cannot open {key!r}", exc) from exc
        # Checked before wrapping: a folder opens read-only, then FileIO refuses it with a raw
        # IsADirectoryError and the descriptor would be left open.
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise StorageError(f"{self.describe()}: {key!r} is not stored as a regular file")
        file = io.FileIO(descriptor, "rb")
        return ObjectStream(fill=self._reader_of(file, key), release=file.close)

    def delete(self, key: str) -> None:
        """Delete the object under key; deleting a missing object is not an error."""
        path = self._path_for(validate_key(key))
        try:
            path.unlink()
        except FileNotFoundError:
            return  # already gone: deleting is idempotent
        except OSError as exc:
            raise self._failure(f"cannot delete {key!r}", exc) from exc
        _fsync_directory(path.parent)

    def exists(self, key: str) -> bool:
        """Whether an object is stored under key."""
        path = self._path_for(validate_key(key))
        try:
            mode = path.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise self._failure(f"cannot look up {key!r}", exc) from exc
        if stat.S_ISLNK(mode):
            raise StorageError(f"{self.describe()}: {key!r} is a symbolic link, refusing it")
        return stat.S_ISREG(mode)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with prefix; walks every shard, since keys are stored by hash."""
        prefix = validate_prefix(prefix)
        self._refuse_symbolic_link(self._objects, "the listing")
        try:
            for shard in self._shards():
                yield from (key for key in _keys_in_shard(shard) if key.startswith(prefix))
        except OSError as exc:
            raise self._failure("cannot list keys", exc) from exc

    def _path_for(self, key: str) -> Path:
        """The file of key, checked to stay inside the root even through symbolic links."""
        name = _file_name(key)
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        shard = self._objects / digest[0:2] / digest[2:4]
        path = shard / name
        # The name holds no "/" and validate_key() forbids "." and "..", so the path is
        # lexically inside; resolving catches a symlinked directory on the way.
        if path.parent != shard or not path.is_relative_to(self._root):
            raise InvalidKey(f"key {key!r} does not map to a file inside the store")
        self._refuse_symbolic_link(shard, repr(key))
        return path

    def _refuse_symbolic_link(self, directory: Path, what: str) -> None:
        """Raise unless directory is reached without a symbolic link anywhere on its path."""
        if directory.resolve() != directory:
            raise StorageError(f"{self.describe()}: a symbolic link leads {what} outside")

    def _make_shard(self, shard: Path) -> None:
        for directory in (shard.parent, shard):
            try:
                directory.mkdir(mode=_DIRECTORY_MODE)
            except FileExistsError:
                continue
            # The new directory entry must survive a crash as much as the file will.
            _fsync_directory(directory.parent)

    def _write_temporary(self, reader: DigestingReader) -> Path:
        """Copy the reader into a synced temporary file (mode 0600) and return its path."""
        descriptor, name = tempfile.mkstemp(dir=self._temporary, prefix="put-")
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in iter(lambda: reader.read(CHUNK_SIZE), b""):
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return temporary

    def _shards(self) -> Iterator[Path]:
        for outer in _subdirectories(self._objects):
            yield from _subdirectories(outer)

    def _reader_of(self, file: io.FileIO, key: str) -> Callable[[memoryview], int]:
        def fill(view: memoryview) -> int:
            try:
                return file.readinto(view)
            except OSError as exc:
                raise self._failure(f"cannot read {key!r}", exc) from exc

        return fill

    def _failure(self, action: str, exc: OSError) -> StorageError:
        return StorageError(f"{self.describe()}: {action}: {exc.strerror or exc}")


def _subdirectories(directory: Path) -> Iterator[Path]:
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield Path(entry.path)


def _keys_in_shard(shard: Path) -> Iterator[str]:
    """The keys stored in one shard directory.

    Entries that could not have been written by `put` (symbolic links, names that are
    not a legal key of this shard, undecodable names) are not objects and are left out.
    """
    with os.scandir(shard) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            key = entry.name.replace("\\", "/")
            try:
                validate_key(key)
            except InvalidKey:
                continue
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
            if shard.name == digest[2:4] and shard.parent.name == digest[0:2]:
                yield key


def _file_name(key: str) -> str:
    """The file name of a legal key: its "/" become backslashes, which keys never hold."""
    return key.replace("/", "\\")


def _fsync_directory(directory: Path) -> None:
    """Flush a directory's entries to disk, so that a rename or unlink survives a crash."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
