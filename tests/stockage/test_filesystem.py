"""Rules only the filesystem backend has: file modes, temporary files, symbolic links."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from stockage import FilesystemStore, ObjectNotFound, StorageError
from tests.stockage.streams import MIB, FailingStream


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> FilesystemStore:
    return FilesystemStore(root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the store, where nothing may ever be read or written."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"hors du coffre")
    return folder


def _object_files(root: Path) -> list[Path]:
    return [path for path in (root / "objects").rglob("*") if path.is_file()]


def _only_object_file(store: FilesystemStore, root: Path, key: str) -> Path:
    store.put(key, io.BytesIO(b"contenu"))
    (path,) = _object_files(root)
    return path


def _shard_of(root: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return root / "objects" / digest[0:2] / digest[2:4]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_new_store_root_is_created_private(tmp_path: Path) -> None:
    FilesystemStore(tmp_path / "var" / "coffre")

    assert _mode(tmp_path / "var" / "coffre") == 0o700


def test_object_files_are_readable_by_the_owner_only(store: FilesystemStore, root: Path) -> None:
    path = _only_object_file(store, root, "foyer/acte.pdf")

    assert _mode(path) == 0o600
    assert {_mode(folder) for folder in root.rglob("*") if folder.is_dir()} == {0o700}


def test_failed_put_leaves_no_temporary_file(store: FilesystemStore, root: Path) -> None:
    with pytest.raises(ConnectionResetError):
        store.put("foyer/acte.pdf", FailingStream(fail_after=3 * MIB))

    assert list((root / ".tmp").iterdir()) == []
    assert _object_files(root) == []


def test_successful_put_leaves_no_temporary_file(store: FilesystemStore, root: Path) -> None:
    store.put("foyer/acte.pdf", io.BytesIO(b"contenu"))

    assert list((root / ".tmp").iterdir()) == []


def test_object_file_replaced_by_a_symlink_outside_is_not_followed(
    store: FilesystemStore, root: Path, outside: Path
) -> None:
    path = _only_object_file(store, root, "foyer/acte.pdf")
    path.unlink()
    path.symlink_to(outside / "secret.txt")

    with pytest.raises(StorageError) as raised:
        store.open("foyer/acte.pdf")
    assert not isinstance(raised.value, ObjectNotFound)
    with pytest.raises(StorageError):
        store.exists("foyer/acte.pdf")
    assert list(store.keys()) == []

    store.put("foyer/acte.pdf", io.BytesIO(b"nouveau"))
    assert not path.is_symlink()
    assert _snapshot(outside) == {"secret.txt": b"hors du coffre"}


def _move_outside_and_link(directory: Path, outside: Path) -> None:
    """Move a folder of the store outside it and plant a symbolic link in its place."""
    shutil.move(directory, outside / "moved")
    directory.symlink_to(outside / "moved", target_is_directory=True)


def _assert_every_operation_on_key_refused(store: FilesystemStore, key: str) -> None:
    with pytest.raises(StorageError):
        store.put(key, io.BytesIO(b"nouveau"))
    for refused in (store.open, store.exists, store.delete):
        with pytest.raises(StorageError):
            refused(key)


@pytest.mark.parametrize("planted", ["outer-shard", "shard"])
def test_shard_folder_replaced_by_a_symlink_outside_is_refused_and_not_listed(
    store: FilesystemStore, root: Path, outside: Path, planted: str
) -> None:
    shard = _only_object_file(store, root, "foyer/acte.pdf").parent
    _move_outside_and_link(shard.parent if planted == "outer-shard" else shard, outside)
    before = _snapshot(outside)

    _assert_every_operation_on_key_refused(store, "foyer/acte.pdf")

    assert list(store.keys()) == []
    assert _snapshot(outside) == before


def test_objects_folder_replaced_by_a_symlink_outside_is_refused_even_to_list(
    store: FilesystemStore, root: Path, outside: Path
) -> None:
    _only_object_file(store, root, "foyer/acte.pdf")
    _move_outside_and_link(root / "objects", outside)
    before = _snapshot(outside)

    _assert_every_operation_on_key_refused(store, "foyer/acte.pdf")

    with pytest.raises(StorageError, match="symbolic link"):
        list(store.keys())
    assert _snapshot(outside) == before


def test_temporary_folder_replaced_by_a_symlink_outside_refuses_uploads(
    store: FilesystemStore, root: Path, outside: Path
) -> None:
    _only_object_file(store, root, "foyer/acte.pdf")
    _move_outside_and_link(root / ".tmp", outside)

    with pytest.raises(StorageError, match="symbolic link"):
        store.put("foyer/acte.pdf", io.BytesIO(b"nouveau"))

    assert _snapshot(outside) == {"secret.txt": b"hors du coffre"}
    with store.open("foyer/acte.pdf") as stream:
        assert stream.read() == b"contenu"


def test_keys_ignores_stray_files(store: FilesystemStore, root: Path, outside: Path) -> None:
    shard = _only_object_file(store, root, "foyer/acte.pdf").parent
    (root / "notes.txt").write_bytes(b"x")
    (root / ".tmp" / "put-interrompu").write_bytes(b"x")
    (root / "objects" / "LISEZMOI").write_bytes(b"x")
    (shard.parent / "égaré").write_bytes(b"x")
    (shard / "pas-de-ce-tiroir.pdf").write_bytes(b"x")
    (shard / "illegal\\\\segment").write_bytes(b"x")
    (shard / "dossier").mkdir()
    Path(os.fsdecode(os.fsencode(shard) + b"/\xff\xfe-pas-utf8")).write_bytes(b"x")
    # A symbolic link in the very file a key would have: not an object either.
    link_shard = _shard_of(root, "lien")
    link_shard.mkdir(parents=True, exist_ok=True)
    (link_shard / "lien").symlink_to(outside / "secret.txt")

    assert list(store.keys()) == ["foyer/acte.pdf"]
    assert list(store.keys("lien")) == []


def test_a_root_that_is_a_file_is_refused_at_start(tmp_path: Path) -> None:
    occupied = tmp_path / "store"
    occupied.write_bytes(b"not a folder")

    with pytest.raises(StorageError, match="cannot prepare the filesystem store"):
        FilesystemStore(occupied)


def test_a_file_where_a_shard_folder_belongs_fails_the_put_cleanly(
    store: FilesystemStore, root: Path
) -> None:
    shard = _shard_of(root, "foyer/acte.pdf")
    shard.parent.mkdir(parents=True, exist_ok=True)
    shard.write_bytes(b"in the way")

    with pytest.raises(StorageError, match=re.escape("cannot store 'foyer/acte.pdf'")):
        store.put("foyer/acte.pdf", io.BytesIO(b"contenu"))

    assert list((root / ".tmp").iterdir()) == []
    assert not store.exists("foyer/acte.pdf")


def test_a_folder_where_an_object_belongs_is_neither_read_nor_deleted(
    store: FilesystemStore, root: Path
) -> None:
    key = "foyer/acte.pdf"
    path = _only_object_file(store, root, key)
    path.unlink()
    path.mkdir()

    assert not store.exists(key)  # not a regular file: not an object
    descriptors = len(list(Path("/proc/self/fd").iterdir()))
    with pytest.raises(StorageError, match="is not stored as a regular file"):
        store.open(key)
    assert len(list(Path("/proc/self/fd").iterdir())) == descriptors  # the folder was not left open
    with pytest.raises(StorageError, match=re.escape("cannot delete 'foyer/acte.pdf'")):
        store.delete(key)
    assert path.is_dir()  # left for an operator to look at
