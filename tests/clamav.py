"""A real ClamAV daemon for the tests: clamd on a Unix socket, with signatures made here.

The official databases are not installed (nothing is downloaded): the daemon loads two
signatures of the tests' own, the EICAR test string anywhere in a file (ClamAV knows it from
its main database only) and the MD5 of one test PDF. It starts in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffre.antivirus import ClamdScanner, clamd_configuration
from tests.coffre.conftest import padding, pdf_parts
from tests.conftest import require

# The EICAR test file: harmless, and recognised as a virus by every antivirus.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Portail.Test.EICAR"
FILE_SIGNATURE = "Portail.Test.Fichier"
STREAM_MAX_BYTES = 25 * 1024 * 1024


def pdf_carrying(payload: bytes, size: int = 2000) -> bytes:
    """A valid PDF of `size` bytes with `payload` on a comment line of its padding."""
    head, length, tail = pdf_parts(size)
    line = b"%" + payload + b"\n"
    return head + line + padding(length - len(line)) + tail


INFECTED_PDF = pdf_carrying(EICAR)
# A PDF that nothing in it betrays: only its MD5, listed in a .hdb database, marks it.
FLAGGED_PDF = pdf_carrying(b"facture ordinaire", 3000)


def write_signatures(directory: Path) -> None:
    """The tests' database: EICAR as a body signature, FLAGGED_PDF by its hash."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "portail-test.ndb").write_text(f"{EICAR_SIGNATURE}:0:*:{EICAR.hex()}\n")
    digest = hashlib.md5(FLAGGED_PDF).hexdigest()  # noqa: S324  (ClamAV's .hdb format)
    (directory / "portail-test.hdb").write_text(f"{digest}:{len(FLAGGED_PDF)}:{FILE_SIGNATURE}\n")


def clamd_program() -> str | None:
    return shutil.which("clamd") or shutil.which("clamd", path="/usr/sbin:/usr/local/sbin")


class ClamdServer:
    """clamd in its own process, on a socket of a temporary directory, no TCP."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = directory / "clamd.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, program: str) -> bool:
        """Write the configuration and the signatures, start clamd; False if it never answers."""
        signatures = self.directory / "signatures"
        write_signatures(signatures)
        config = self.directory / "clamd.conf"
        config.write_text(
            clamd_configuration(self.socket_path, signatures, STREAM_MAX_BYTES)
            + f"TemporaryDirectory {self.directory}\n"
        )
        log = (self.directory / "clamd.log").open("wb")
        self.process = subprocess.Popen(
            [program, "--config-file", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self._wait_until_answering(seconds=30)

    def _wait_until_answering(self, seconds: float) -> bool:
        assert self.process is not None
        scanner = ClamdScanner(self.socket_path)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.socket_path.exists() and scanner.answers():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    @property
    def log_text(self) -> str:
        path = self.directory / "clamd.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdServer]:
    """A real clamd for the whole session (its socket: `clamd.socket_path`)."""
    program = clamd_program()
    if program is None:
        require("clamd is not installed (Debian package clamav-daemon)")
    assert program is not None
    server = ClamdServer(tmp_path_factory.mktemp("clamd"))
    try:
        if not server.start(program):
            pytest.fail(f"clamd did not start:\n{server.log_text[-2000:]}")
        yield server
    finally:
        server.stop()


@pytest.fixture
def scanner(clamd: ClamdServer) -> ClamdScanner:
    return ClamdScanner(clamd.socket_path)
