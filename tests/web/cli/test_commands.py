from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from web import create_app
from web.runtime import runtime
from web.settings import load_settings


def _fresh_app(tmp_path: Path, env: str = "development") -> Flask:
    extra = (
        {
            "SECRET_KEY": "p" * 40,
            "MASTER_KEYS": "1:" + "A" * 43 + "=",
            "JOURNAL_KEY_FILE": str(tmp_path / "journal.key"),
        }
        if env == "production"
        else {}
    )
    return create_app(load_settings({"ENV": env, "VAR_DIR": str(tmp_path), **extra}))


def test_db_upgrade_then_seed_demo_prints_the_logins(tmp_path: Path) -> None:
    app = _fresh_app(tmp_path)
    runner = app.test_cli_runner()

    upgraded = runner.invoke(args=["db", "upgrade"])
    seeded = runner.invoke(args=["seed-demo"])
    again = runner.invoke(args=["seed-demo"])

    assert upgraded.exit_code == 0, upgraded.output
    assert seeded.exit_code == 0, seeded.output
    assert "admin@bellerive.example" in seeded.output
    assert "famille.martin@bellerive.example" in seeded.output
    assert "agent.creche@bellerive.example" in seeded.output
    assert "application d'authentification" in seeded.output  # agents enrol a second factor
    assert "Démarche publiée : Pré-inscription en crèche (version 1)" in seeded.output
    assert "Démarche publiée" not in again.output  # unchanged diagrams are not republished
    assert "Demande déposée" in seeded.output and "Demande déposée" not in again.output
    assert again.output in seeded.output  # the same logins, nothing created twice
    runtime(app).engine.dispose()


def test_a_client_created_with_the_cli_reads_the_demo_demande_and_its_documents(
    tmp_path: Path,
) -> None:
    """What the README shows: `flask api client create`, a token, the demandes, a document."""
    app = _fresh_app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    created = runner.invoke(
        args=["api", "client", "create", "--entite", "ville",
              "--scopes", "demandes:read documents:read"]
    )  # fmt: skip
    values = dict(line.split("=", 1) for line in created.stdout.splitlines())
    http = app.test_client()

    token = http.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(values["client_id"], values["client_secret"]),
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    demandes = http.get("/api/v1/demandes", headers=headers).get_json()["items"]
    documents = http.get(f"/api/v1/demandes/{demandes[0]['id']}/documents", headers=headers)
    first = documents.get_json()[0]
    content = http.get(
        f"/api/v1/demandes/{demandes[0]['id']}/documents/{first['id']}/contenu", headers=headers
    )

    assert [d["procedure"]["code"] for d in demandes] == ["quotient_familial"]
    assert [d["type"] for d in documents.get_json()] == ["avis_imposition"]
    assert content.status_code == 200 and content.data.startswith(b"%PDF")
    runtime(app).engine.dispose()


def test_db_current_and_downgrade(tmp_path: Path) -> None:
    app = _fresh_app(tmp_path)
    runner = app.test_cli_runner()
    upgraded = runner.invoke(args=["db", "upgrade"])
    at_head = runner.invoke(args=["db", "current"])

    downgraded = runner.invoke(args=["db", "downgrade", "base"])
    at_base = runner.invoke(args=["db", "current"])
    again = runner.invoke(args=["db", "upgrade"])

    assert upgraded.exit_code == 0, upgraded.output
    assert at_head.exit_code == 0, at_head.output
    assert "0035 (head)" in at_head.output  # the last migration
    assert downgraded.exit_code == 0, downgraded.output
    assert at_base.exit_code == 0
    assert "0021" not in at_base.output
    assert again.exit_code == 0, again.output
    assert "0035 (head)" in runner.invoke(args=["db", "current"]).output
    runtime(app).engine.dispose()


def test_demo_data_is_refused_in_production(tmp_path: Path) -> None:
    app = _fresh_app(tmp_path, env="production")
    runner: CliRunner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code != 0
    assert "refused when ENV=production" in result.output
    runtime(app).engine.dispose()
