"""`open_store` turns STORAGE_URL into a store, and never lets the secret it holds leak."""

from __future__ import annotations

import io
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from stockage import FilesystemStore, MinioStore, ObjectStore, StorageUnavailable, open_store
from tests.stockage.conftest import ACCESS_KEY, SECRET_KEY, free_port

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SECRET_IN_URL = "wJalrXUtnFEMI%2FK7MDENG%2BbPxRfiCYEXAMPLEKEY"


def _credentials(store: MinioStore) -> tuple[str, str, str | None]:
    # minio has no public accessor for what its client was built with.
    provider = store._client._provider
    assert provider is not None
    credentials = provider.retrieve()
    return credentials.access_key, credentials.secret_key, store._client._base_url.region


# file:// and plain paths


def test_file_url_with_an_absolute_path_opens_a_filesystem_store_there(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/coffre")

    assert isinstance(store, FilesystemStore)
    assert store.describe() == f"filesystem {tmp_path.resolve() / 'coffre'}"


def test_file_url_path_is_percent_decoded(tmp_path: Path) -> None:
    open_store(f"file://{tmp_path}/mon%20coffre%C3%A9")

    assert (tmp_path / "mon coffreé").is_dir()


def test_file_url_without_slashes_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store("file:var/coffre")

    assert store.describe() == f"filesystem {tmp_path.resolve() / 'var' / 'coffre'}"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_plain_path_opens_a_filesystem_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store("var/coffre" if relative else str(tmp_path / "var" / "coffre"))

    assert isinstance(store, FilesystemStore)
    assert (tmp_path / "var" / "coffre").is_dir()


# s3://


def test_s3_url_opens_a_minio_store_over_https_by_default() -> None:
    store = open_store("s3://AKIA:secret@minio.example:9000/coffre")

    assert isinstance(store, MinioStore)
    assert store.describe() == "s3 https://minio.example:9000/coffre"


@pytest.mark.parametrize(
    ("secure", "scheme"),
    [("false", "http"), ("False", "http"), ("0", "http"), ("no", "http"), ("true", "https")],
)
def test_s3_url_secure_option_chooses_the_scheme(secure: str, scheme: str) -> None:
    store = open_store(f"s3://AKIA:secret@minio.example:9000/coffre?secure={secure}")

    assert store.describe() == f"s3 {scheme}://minio.example:9000/coffre"


def test_s3_url_without_port_keeps_the_bare_host() -> None:
    store = open_store("s3://AKIA:secret@minio.example/coffre")

    assert store.describe() == "s3 https://minio.example/coffre"


def test_s3_url_with_an_ipv6_host_keeps_its_brackets() -> None:
    store = open_store("s3://AKIA:secret@[::1]:9000/coffre?secure=false")

    assert store.describe() == "s3 http://[::1]:9000/coffre"


def test_s3_url_credentials_are_percent_decoded_and_region_passed() -> None:
    store = open_store(f"s3://AKIA%2Bx:{SECRET_IN_URL}@minio.example/coffre?region=eu-west-3")

    assert isinstance(store, MinioStore)
    assert _credentials(store) == ("AKIA+x", SECRET, "eu-west-3")


def test_s3_url_without_region_leaves_it_to_the_server() -> None:
    store = open_store("s3://AKIA:secret@minio.example/coffre")

    assert isinstance(store, MinioStore)
    assert _credentials(store)[2] is None


def test_described_s3_store_names_no_credentials() -> None:
    store = open_store(f"s3://AKIA-VISIBLE-NOWHERE:{SECRET_IN_URL}@minio.example/coffre")

    for text in (store.describe(), repr(store), str(store)):
        assert "AKIA-VISIBLE-NOWHERE" not in text
        assert "wJalrXUtnFEMI" not in text


@pytest.mark.s3
def test_s3_url_opens_a_working_store_on_the_server(s3_server: str) -> None:
    bucket = f"factory-{uuid.uuid4().hex[:12]}"
    url = f"s3://{ACCESS_KEY}:{SECRET_KEY}@{s3_server}/{bucket}?secure=false&region=us-east-1"
    store = open_store(url)

    store.put("foyer/acte.pdf", io.BytesIO(b"contenu"))

    with store.open("foyer/acte.pdf") as stream:
        assert stream.read() == b"contenu"


# Refused URLs


@pytest.mark.parametrize(
    "url",
    [
        "",
        "file:",
        "file://",
        "http://minio.example/coffre",
        "s3://minio.example:9000/coffre",
        "s3://AKIA@minio.example:9000/coffre",
        f"s3://AKIA:{SECRET_IN_URL}@:9000/coffre",
        f"s3://AKIA:{SECRET_IN_URL}@minio.example:9000",
        f"s3://AKIA:{SECRET_IN_URL}@minio.example:9000/",
        f"s3://AKIA:{SECRET_IN_URL}@minio.example:9000/coffre/dossier",
        f"s3://AKIA:{SECRET_IN_URL}@minio.example:neuf/coffre",
    ],
)
def test_unusable_url_is_refused_without_repeating_the_secret(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # so that a URL wrongly taken for a folder lands here

    with pytest.raises(ValueError) as raised:
        open_store(url)

    assert "wJalrXUtnFEMI" not in str(raised.value)


# An unreachable server

UNREACHABLE_OPERATIONS: dict[str, Callable[[ObjectStore], object]] = {
    "put": lambda store: store.put("acte.pdf", io.BytesIO(b"contenu")),
    "open": lambda store: store.open("acte.pdf"),
    "exists": lambda store: store.exists("acte.pdf"),
    "delete": lambda store: store.delete("acte.pdf"),
    "keys": lambda store: list(store.keys()),
}


@pytest.mark.parametrize(
    "operation", UNREACHABLE_OPERATIONS.values(), ids=UNREACHABLE_OPERATIONS.keys()
)
def test_unreachable_server_raises_storage_unavailable_naming_no_credentials(
    operation: Callable[[ObjectStore], object],
) -> None:
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens once the probe has closed
    store = open_store(f"s3://AKIA-VISIBLE-NOWHERE:{SECRET_IN_URL}@{endpoint}/coffre?secure=false")

    with pytest.raises(StorageUnavailable) as raised:
        operation(store)

    assert endpoint in str(raised.value)
    logged = "".join(traceback.format_exception(raised.value))
    for secret in ("AKIA-VISIBLE-NOWHERE", "wJalrXUtnFEMI", SECRET_IN_URL):
        assert secret not in logged
