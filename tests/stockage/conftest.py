"""A real S3 server (moto, standalone, in its own process) and the store under contract."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockage import FilesystemStore, MinioStore, ObjectStore
from tests.conftest import require

ACCESS_KEY = "moto-access"
SECRET_KEY = "moto-secret-not-real"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (our loopback server)
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its host:port."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("wb")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        if not _wait_until_answering(f"http://127.0.0.1:{port}/", process, 30):
            require("moto's S3 server did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def make_minio_store(endpoint: str) -> MinioStore:
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    return MinioStore(endpoint, ACCESS_KEY, SECRET_KEY, bucket, secure=False)


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "store")
    endpoint: str = request.getfixturevalue("s3_server")
    return make_minio_store(endpoint)
