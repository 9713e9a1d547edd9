"""Gunicorn's access log, as `make run` writes it, holds no token and no searched name."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from web.access_log import mask

TOKEN = "eyJmIjoxLCJlIjoiZXhhbXBsZSJ9.Zq3bRk.jeton-secret"
SEARCHED = ("Dupont", "Durand", "Martin")
ROOT = Path(__file__).parents[2]


def _listening_port(errors: Path, server: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", errors.read_text())
        if found:
            return int(found.group(1))
        assert server.poll() is None, errors.read_text()
        time.sleep(0.05)
    raise AssertionError("gunicorn did not start:\n" + errors.read_text())


@contextmanager
def gunicorn(tmp_path: Path, access: Path) -> Iterator[int]:
    """The portal under gunicorn with the logger class of `make run`, on a free port.

    The access log is complete once the block is left (gunicorn writes a request's line
    after its response is sent).
    """
    errors = tmp_path / "errors.log"
    errors.touch()
    env = {"PATH": os.environ.get("PATH", ""), "ENV": "test", "VAR_DIR": str(tmp_path / "var")}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
            "--access-logfile", str(access), "--error-logfile", str(errors),
            "--logger-class", "web.access_log.MaskingLogger", "--no-control-socket",
            "web:create_app()",
        ],
        env=env,
        cwd=ROOT,  # `python -m` imports the portal of this checkout
    )  # fmt: skip
    try:
        yield _listening_port(errors, server)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _get(port: int, path: str, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_gunicorn_access_log_masks_tokens_and_searches(tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    with gunicorn(tmp_path, access) as port:
        referer = f"http://127.0.0.1:{port}/agent/?onglet=a_traiter&q={SEARCHED[2]}"
        statuses = [
            _get(port, f"/mot-de-passe/{TOKEN}"),
            _get(port, f"/admin/invitation/{TOKEN}?x=1", Referer=referer),
            _get(port, f"/agent/guichet?q={SEARCHED[0]}&page=2"),
            _get(port, f"/connexion?next=%2Fagent%2Fguichet%3Fq%3D{SEARCHED[1]}"),
        ]

    assert statuses == [400, 400, 302, 200]
    log = access.read_text()
    assert log.count("\n") == 4, log
    assert "jeton-secret" not in log and "eyJ" not in log
    assert not [name for name in SEARCHED if name in log]
    assert "GET /mot-de-passe/*** HTTP/1.1" in log
    assert "GET /admin/invitation/***?x=1 HTTP/1.1" in log
    assert "GET /agent/guichet?q=***&page=*** HTTP/1.1" in log
    assert "/agent/?onglet=a_traiter&q=***" in log  # the Referer


def test_every_token_route_is_masked_and_token_free_pages_stay_readable(app: Flask) -> None:
    token_rules = [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]
    assert len(token_rules) >= 4
    for rule in token_rules:
        path = rule.build({"token": TOKEN}, append_unknown=False)[1]
        assert TOKEN not in mask(path), rule.rule
    for rule in app.url_map.iter_rules():
        if not rule.arguments:
            assert mask(rule.rule) == rule.rule, "a token-free page is masked: " + rule.rule


def test_searched_values_are_masked_on_any_page() -> None:
    assert mask("/agent/?onglet=a_traiter&q=Dupont") == "/agent/?onglet=a_traiter&q=***"
    assert mask("GET /connexion?next=/famille/&email=a@b.fr HTTP/1.1") == (
        "GET /connexion?next=***&email=*** HTTP/1.1"
    )
    assert mask("onglet=a_traiter&page=2") == "onglet=a_traiter&page=2"
    assert mask("onglet=a_traiter&page=2", counter=True) == "onglet=***&page=***"


def test_make_run_serves_with_the_masking_logger() -> None:
    makefile = (ROOT / "Makefile").read_text()

    assert "--logger-class web.access_log.MaskingLogger" in makefile
