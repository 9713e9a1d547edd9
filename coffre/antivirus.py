"""ClamAV's daemon behind the vault's `Scanner` interface: each document sent with INSTREAM.

clamd reads its signatures from the directory its configuration names (DatabaseDirectory),
which the town keeps up to date: nothing is downloaded at run time, and freshclam does not
run. `clamd_configuration` writes that configuration from the portal's settings.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clamdpy import ClamdUnixSocket
from clamdpy.exceptions import ClamdException
from clamdpy.exceptions import ConnectionError as ClamdConnectionError

from coffre.errors import VaultError

log = logging.getLogger(__name__)
PING_SECONDS = 2.0


@dataclass(frozen=True)
class Verdict:
    """What the scanner found: nothing, or the name of the signature that matched."""

    signature: str | None = None  # a signature's name, never a document's content

    @property
    def infected(self) -> bool:
        return self.signature is not None


class ScanPending(VaultError):
    """The document waits for its antivirus scan: no agent may open it before it is clean."""


class DocumentQuarantined(VaultError):
    """The antivirus found malware in the document: its content is deleted, nobody opens it."""


class ScannerUnavailable(VaultError):
    """The scanner did not answer, or could not scan: the document waits for the next turn."""


class Scanner(Protocol):
    """An antivirus that scans a stream of bytes without it ever touching the disk."""

    def scan(self, chunks: Iterable[bytes]) -> Verdict:
        """The verdict on these bytes; ScannerUnavailable when there is none."""
        ...

    def answers(self) -> bool:
        """Whether the scanner is there and ready."""
        ...


@dataclass(frozen=True)
class ClamdScanner:
    """clamd on its local (Unix) socket."""

    socket_path: Path
    timeout_seconds: float = 120.0

    def scan(self, chunks: Iterable[bytes]) -> Verdict:
        """Stream the bytes to clamd (INSTREAM) and read its verdict."""
        client = _Clamd(self.socket_path, timeout=self.timeout_seconds)
        try:
            result = client.instream(_Reader(iter(chunks)))
        except (ClamdException, OSError) as exc:
            # clamd refuses a stream longer than its StreamMaxLength by closing the socket.
            raise ScannerUnavailable(f"clamd: {type(exc).__name__}") from None
        if result.status == "FOUND":
            return Verdict(result.reason or "inconnu")
        if result.status == "OK":
            return Verdict()
        raise ScannerUnavailable(f"clamd could not scan: {result.reason}")

    def answers(self) -> bool:
        """Whether clamd answers PING within a couple of seconds."""
        client = _Clamd(self.socket_path, timeout=PING_SECONDS)
        try:
            return client.ping() == "PONG"
        except (ClamdException, OSError) as exc:
            log.warning("antivirus: clamd does not answer (%s)", type(exc).__name__)
            return False


class _Clamd(ClamdUnixSocket):
    """clamdpy's client, closing its socket when clamd is not there (0.2.0 leaves it open)."""

    def _acquire_socket(self) -> socket.socket:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(self.timeout)
        try:
            connection.connect(str(self.socket_path))
        except OSError as exc:
            connection.close()
            raise ClamdConnectionError(f"clamd: {exc.strerror or type(exc).__name__}") from None
        return connection


class _Reader:
    """The decrypted segments as the file-like object clamdpy reads: one segment a read.

    A read may give fewer bytes than asked, never none before the end: clamdpy sends each
    read as one INSTREAM chunk (a segment is at most 1 MiB) and stops at the first empty one.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, size: int = -1) -> bytes:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return b""


def clamd_configuration(socket_path: Path, signatures: Path, stream_max_bytes: int) -> str:
    """A clamd.conf for the portal: a local socket only (no TCP), signatures read from the
    town's directory, streams as long as the largest document."""
    return (
        f"LocalSocket {socket_path}\n"
        "LocalSocketMode 660\n"
        f"DatabaseDirectory {signatures}\n"
        f"StreamMaxLength {stream_max_bytes}\n"
        "Foreground yes\n"
        # Signatures the town adds to the directory are loaded within ten minutes.
        "SelfCheck 600\n"
    )
