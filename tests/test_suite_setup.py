"""What the suite says about its own set-up: a PostgreSQL setting that is wrong is never hidden."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import POSTGRES_SERVER_URL, PostgresServer, require

ROOT = Path(__file__).resolve().parents[1]
# One test that needs the database, run by a pytest of its own.
DATABASE_TEST = ["tests/accounts/test_throttle.py", "-k", "wait_grows and database"]


def _run_suite(server_url: str, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["TEST_POSTGRES_URL"] = server_url
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DATABASE_TEST, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.postgres
def test_a_role_the_server_refuses_fails_with_the_servers_own_words(
    postgres: PostgresServer | None,
) -> None:
    if postgres is None:
        require("PostgreSQL is needed to be refused by it")
    wrong = make_url(POSTGRES_SERVER_URL).set(username="no_such_role_17")
    result = _run_suite(wrong.render_as_string(hide_password=False), ci=False)
    assert result.returncode != 0
    assert 'role "no_such_role_17" does not exist' in result.stdout
    assert "Set TEST_POSTGRES_URL" in result.stdout


@pytest.mark.postgres
def test_a_database_test_runs_on_both_deployments_and_markers_pick_one(
    postgres: PostgresServer | None,
) -> None:
    if postgres is None:
        require("PostgreSQL is needed for the production deployment")
    both = _run_suite(POSTGRES_SERVER_URL, "-rA", ci=True)
    assert both.returncode == 0, both.stdout[-2000:]
    assert re.search(r"^PASSED .*[-\[]sqlite-files\]$", both.stdout, re.MULTILINE)
    assert re.search(r"^PASSED .*[-\[]postgresql-s3\]$", both.stdout, re.MULTILINE)
    embedded = _run_suite(POSTGRES_SERVER_URL, "-rA", "-m", "not postgres", ci=True)
    assert re.search(r"^PASSED .*[-\[]sqlite-files\]$", embedded.stdout, re.MULTILINE)
    assert "postgresql-s3" not in embedded.stdout


def test_no_server_under_ci_fails_instead_of_falling_back_to_sqlite() -> None:
    result = _run_suite("postgresql+psycopg://postgres@127.0.0.1:9/test", ci=True)
    assert result.returncode != 0
    assert "Connection refused" in result.stdout


def test_no_server_outside_ci_runs_on_sqlite() -> None:
    result = _run_suite("postgresql+psycopg://postgres@127.0.0.1:9/test", ci=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout


HOOK = "from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n"
MADE_UP_PARTS = """
import pytest

@pytest.fixture
def s3_server():
    return "http://127.0.0.1:9"

@pytest.fixture
def postgres():
    return None

@pytest.fixture
def store(s3_server):
    return s3_server
"""


def test_a_test_using_the_s3_server_without_its_marker_is_not_collected(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(HOOK + MADE_UP_PARTS)
    pytester.makepyfile("def test_upload(store):\n    assert store\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*test_upload: needs @pytest.mark.s3*"])


def test_a_test_asking_for_the_postgresql_server_needs_its_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(HOOK + MADE_UP_PARTS)
    pytester.makepyfile(
        "import pytest\n\n"
        "def test_unmarked(postgres):\n    pass\n\n"
        "@pytest.mark.postgres\ndef test_marked(postgres):\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*test_unmarked: needs @pytest.mark.postgres*"])
    result.stderr.no_fnmatch_line("*test_marked: needs*")


def test_marked_tests_are_collected(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(HOOK + MADE_UP_PARTS)
    pytester.makeini("[pytest]\nmarkers =\n    s3: needs the S3 server\n")
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.s3\ndef test_upload(store):\n    assert store\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
