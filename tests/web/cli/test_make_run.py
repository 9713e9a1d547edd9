"""What `make run` prints, step by step: a quiet migration, then the demo's logins, the
portal's address, where its e-mails are read and how agents pass the second factor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from web import create_app
from web.runtime import runtime
from web.settings import load_settings


def _upgrade(var_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ENV="development", VAR_DIR=str(var_dir), FLASK_APP="web:create_app")
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade", *options],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_the_quiet_migration_prints_nothing(tmp_path: Path) -> None:
    quiet = _upgrade(tmp_path / "quiet", "--quiet")
    told = _upgrade(tmp_path / "told")

    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert "Running upgrade" in told.stderr  # Alembic's INFO lines, without --quiet
    assert "Database at revision head." in told.stdout


@pytest.mark.parametrize(("env", "shown"), [("development", True), ("test", False)])
def test_seed_demo_tells_where_the_portal_and_its_emails_are(
    tmp_path: Path, env: str, shown: bool
) -> None:
    app = create_app(load_settings({"ENV": env, "VAR_DIR": str(tmp_path), "PORT": "5091"}))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "--quiet"]).exit_code == 0

    seeded = runner.invoke(args=["seed-demo"])

    assert seeded.exit_code == 0, seeded.output
    lines = [
        "Portail : http://127.0.0.1:5091\n",
        "Courriels de la démo (inscription, mot de passe, invitations) : "
        "http://127.0.0.1:5091/admin/courriels\n",
        "la page du code affiche le code du moment",
    ]
    assert all((line in seeded.output) is shown for line in lines), seeded.output
    runtime(app).engine.dispose()
