"""The journal's signing key: an Ed25519 key that signs checkpoints, kept apart from the database.

The private key lives in a 0600 PEM file (PKCS#8), like the master keyring, and only the worker
and the operator's commands read it; the public key can be handed to an auditor, who then checks
checkpoints without being able to make one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from coffre.keyring import create_private_file


class JournalKeyError(Exception):
    """The journal key file is missing, unreadable, too open or not an Ed25519 key."""


def create_signing_key_file(path: Path) -> bool:
    """Write a fresh Ed25519 private key as a 0600 PEM file; False when the file exists."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    header = "# Journal signing key of the portal: back it up with the master keyring.\n"
    return create_private_file(path, header + pem.decode("ascii"))


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the private key, refusing a file that other users can read."""
    text = _read(path)
    if path.stat().st_mode & 0o077:
        raise JournalKeyError(f"the journal key {path} must not be readable by others (chmod 600)")
    try:
        key = serialization.load_pem_private_key(_pem_block(text), password=None)
    except ValueError:
        raise JournalKeyError(f"the journal key {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise JournalKeyError(f"the journal key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM), as `flask coffre journal public-key` prints it."""
    try:
        key = serialization.load_pem_public_key(_pem_block(_read(path)))
    except ValueError:
        raise JournalKeyError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise JournalKeyError(f"{path} is not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM text, for an auditor's JOURNAL_PUBLIC_KEY_FILE."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key inside each checkpoint."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signature_valid(key: Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    """Whether the signature is the key's over exactly these bytes."""
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise JournalKeyError(f"cannot read the journal key {path}: {reason}") from None


def _pem_block(text: str) -> bytes:
    """The PEM part of the file: comment lines before it are allowed."""
    start = text.find("-----BEGIN")
    return text[max(start, 0) :].encode("ascii")
