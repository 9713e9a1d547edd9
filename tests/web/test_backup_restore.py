"""Backup and restore, as the README's operator procedure does it, through the real commands.

A backup is three things taken together: the database dump, a copy of the object store, and
the master keyring (plus the journal key, which signed the journal's checkpoints, and the secret
key for sessions). Restored into an empty instance, every document of every family reads back
and the journal matches its checkpoint; restored without the keyring, no document does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from coffre.models import Document, Foyer
from tests.conftest import PostgresServer, require

# What the backup takes from VAR_DIR beside the dump: the keyring, the journal key, sessions.
KEPT = ("master.keys", "journal.key", "secret_key")


def flask(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], env=env, capture_output=True, text=True, check=check
    )


def instance(var_dir: Path, database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        ENV="test",
        VAR_DIR=str(var_dir),
        DATABASE_URL=database_url,
        FLASK_APP="web:create_app",
    )


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def server(postgres: PostgresServer | None) -> PostgresServer:
    if postgres is None:
        require("PostgreSQL is needed for the backup procedure (pg_dump / pg_restore)")
    assert postgres is not None
    return postgres


@dataclass(frozen=True)
class Backup:
    path: Path
    source_url: str


@pytest.fixture(scope="module")
def backup(server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Backup:
    """A demo instance, seeded through the real commands, then backed up once for the module."""
    root = tmp_path_factory.mktemp("backup")
    source, source_url = root / "source", server.create_database()
    env = instance(source, source_url)
    flask(env, "db", "upgrade")
    flask(env, "seed-demo")
    flask(env, "coffre", "journal", "checkpoint")  # the worker does it every hour
    back_up(source, source_url, root / "backup")
    return Backup(root / "backup", source_url)


def back_up(source: Path, source_url: str, backup: Path) -> None:
    """The README's backup: pg_dump, then the object store and the keyring."""
    backup.mkdir()
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={backup / 'base.dump'}", libpq(source_url)],
        check=True,
    )
    shutil.copytree(source / "objects", backup / "objects")
    for name in KEPT:
        shutil.copy2(source / name, backup / name)


def restore(backup: Path, target: Path, target_url: str, *, with_keyring: bool = True) -> None:
    """The README's restore into an empty instance: data, objects, then keys."""
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={libpq(target_url)}",
            str(backup / "base.dump"),
        ],
        check=True,
    )
    target.mkdir()
    shutil.copytree(backup / "objects", target / "objects")
    for name in KEPT if with_keyring else ("secret_key",):
        shutil.copy2(backup / name, target / name)


@pytest.mark.postgres
def test_a_backup_restored_into_an_empty_instance_reads_back_every_document(
    tmp_path: Path, server: PostgresServer, backup: Backup
) -> None:
    engine = create_engine(backup.source_url)
    with engine.connect() as connection:
        expected = {
            row.id: row.sha256 for row in connection.execute(select(Document.id, Document.sha256))
        }
        foyers = list(connection.scalars(select(Foyer.id).order_by(Foyer.id)))
    engine.dispose()
    assert len(expected) >= 9 and foyers

    target, target_url = tmp_path / "target", server.create_database()
    restore(backup.path, target, target_url)
    restored = instance(target, target_url)

    verify = flask(restored, "coffre", "verify")
    assert f"{len(expected)} documents checked, 0 damaged." in verify.stdout
    journal = flask(restored, "coffre", "journal", "verify")
    assert journal.returncode == 0, journal.stdout
    assert "last checkpoint: " in journal.stdout and "not yet anchored" not in journal.stdout
    read_back: dict[int, str] = {}
    for foyer_id in foyers:
        archive_path = tmp_path / f"foyer-{foyer_id}.zip"
        flask(restored, "coffre", "export", str(foyer_id), str(archive_path))
        with zipfile.ZipFile(archive_path) as archive:
            for entry in json.loads(archive.read("manifest.json")):
                content = archive.read(entry["fichier"])
                assert hashlib.sha256(content).hexdigest() == entry["sha256"]
                read_back[entry["id"]] = entry["sha256"]
    assert read_back == expected


@pytest.mark.postgres
def test_a_restore_without_the_keyring_reads_no_document(
    tmp_path: Path, server: PostgresServer, backup: Backup
) -> None:
    target, target_url = tmp_path / "target", server.create_database()

    restore(backup.path, target, target_url, with_keyring=False)
    verify = flask(instance(target, target_url), "coffre", "verify", check=False)

    assert verify.returncode == 1
    assert ", 0 damaged." not in verify.stdout
    checked, damaged = verify.stdout.strip().splitlines()[-1].split(" documents checked, ")
    assert damaged == f"{checked} damaged."
