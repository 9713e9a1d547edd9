"""The versioned master keyring: key-encryption keys that wrap each foyer's data key.

File format, one key per line, newest version wins for new wraps::

    # comments are allowed
    1:<32 bytes, urlsafe base64>
    2:<32 bytes, urlsafe base64>
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

KEY_BYTES = 32


class KeyringError(Exception):
    """The master key source is missing, unreadable or malformed (never carries key bytes)."""


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys by version; their bytes never appear in a repr."""

    keys: dict[int, bytes] = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError(f"the master keyring {self.source!r} holds no key")

    @property
    def current_version(self) -> int:
        return max(self.keys)

    def key(self, version: int) -> bytes:
        """The key of one version; KeyringError when it was retired or never existed."""
        try:
            return self.keys[version]
        except KeyError:
            raise KeyringError(f"master key version {version} is not in the keyring") from None


def parse_keyring(text: str, source: str) -> Keyring:
    """Parse the `version:base64` lines of a keyring file or variable."""
    keys: dict[int, bytes] = {}
    for number, raw in enumerate(text.replace(",", "\n").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        version_text, sep, encoded = line.partition(":")
        if not sep or not version_text.strip().isdigit():
            raise KeyringError(f"{source}, line {number}: expected 'version:base64-key'")
        try:
            key = base64.b64decode(encoded.strip(), altchars=b"-_", validate=True)
        except ValueError:
            raise KeyringError(f"{source}, line {number}: the key is not base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(f"{source}, line {number}: a key must be {KEY_BYTES} bytes")
        keys[int(version_text)] = key
    return Keyring(keys=keys, source=source)


def load_keyring_file(path: Path) -> Keyring:
    """Read a keyring file, refusing one that other users can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise KeyringError(f"cannot read the master keyring {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise KeyringError(f"the master keyring {path} must not be readable by others (chmod 600)")
    return parse_keyring(text, str(path))


def create_keyring_file(path: Path) -> bool:
    """Create a keyring file with one fresh key, mode 0600; False when it already exists."""
    header = "# Master keyring of the portal: back it up apart from the database.\n"
    return create_private_file(path, f"{header}1:{new_key_text()}\n")


def create_private_file(path: Path, text: str) -> bool:
    """Write a 0600 file all at once, never over an existing one; False when it exists.

    The content is written aside, then linked into place, so a concurrent reader sees either
    no file or the whole of it.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(aside, path)
    except FileExistsError:
        return False
    finally:
        aside.unlink()
    return True


def new_key_text() -> str:
    """A fresh 256-bit key, base64-encoded for a keyring line."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def add_key_version(path: Path) -> int:
    """Append a fresh key as the next version of a keyring file (atomically, still 0600)."""
    current = load_keyring_file(path)
    version = current.current_version + 1
    text = path.read_text(encoding="ascii").rstrip("\n") + f"\n{version}:{new_key_text()}\n"
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    aside.replace(path)
    return version
