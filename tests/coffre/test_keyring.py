from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from coffre.keyring import (
    KeyringError,
    create_keyring_file,
    load_keyring_file,
    new_key_text,
    parse_keyring,
)


def test_created_keyring_is_private_and_loads_one_key(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"

    assert create_keyring_file(path) is True
    keyring = load_keyring_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyring.current_version == 1
    assert len(keyring.key(1)) == 32


def test_an_existing_keyring_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    create_keyring_file(path)
    before = path.read_bytes()

    assert create_keyring_file(path) is False
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["master.keys"]


def test_newest_version_is_current() -> None:
    keyring = parse_keyring(f"# rotated\n1:{new_key_text()}\n3:{new_key_text()}\n", "test")

    assert keyring.current_version == 3
    with pytest.raises(KeyringError, match="version 2 is not in the keyring"):
        keyring.key(2)


def test_keyring_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    create_keyring_file(path)
    path.chmod(0o644)

    with pytest.raises(KeyringError, match="chmod 600"):
        load_keyring_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        ("nonsense", "expected 'version:base64-key'"),
        ("1:!!!not base64!!!", "not base64"),
        (f"1:{base64.urlsafe_b64encode(b'short').decode()}", "must be 32 bytes"),
    ],
)
def test_malformed_keyrings_are_refused(text: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_keyring(text, "MASTER_KEYS")


def test_keys_never_appear_in_repr_or_errors() -> None:
    key_text = new_key_text()
    keyring = parse_keyring(f"1:{key_text}", "test")
    raw = keyring.key(1)

    assert key_text not in repr(keyring)
    assert repr(raw) not in repr(keyring)
    with pytest.raises(KeyringError) as caught:
        parse_keyring(f"x{key_text}", "test")
    assert key_text not in str(caught.value)
