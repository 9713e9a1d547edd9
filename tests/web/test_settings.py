from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from web.settings import ConfigError, load_settings


def test_defaults_put_everything_under_var(tmp_path: Path) -> None:
    settings = load_settings({"VAR_DIR": str(tmp_path)})

    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'portail.db'}"
    assert settings.storage_url == f"file://{tmp_path / 'objects'}"
    assert settings.master_key_file == tmp_path / "master.keys"
    assert settings.base_url == "http://127.0.0.1:5000"


def test_generated_secrets_are_private_and_stable(tmp_path: Path) -> None:
    first = load_settings({"VAR_DIR": str(tmp_path)})
    second = load_settings({"VAR_DIR": str(tmp_path)})

    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 48
    for name in ("secret_key", "master.keys"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_environment_variables_override_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://portail@db/portail",
            "STORAGE_URL": "s3://key:secret@minio:9000/docs",
            "SECRET_KEY": "s" * 40,
            "MASTER_KEY_FILE": str(tmp_path / "elsewhere.keys"),
            "SMTP_HOST": "smtp.ville.example",
            "SMTP_PORT": "587",
            "SMTP_STARTTLS": "true",
            "BASE_URL": "https://famille.ville.example/",
        }
    )

    assert settings.database_url.startswith("postgresql")
    assert settings.storage_url.startswith("s3://")
    assert settings.secret_key == "s" * 40
    assert settings.master_key_file == tmp_path / "elsewhere.keys"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == (
        "smtp.ville.example",
        587,
        True,
    )
    assert settings.base_url == "https://famille.ville.example"
    assert settings.secure_cookies
    assert not (tmp_path / "master.keys").exists()


def test_production_refuses_a_generated_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in production"):
        load_settings({"ENV": "production", "VAR_DIR": str(tmp_path), "MASTER_KEYS": "x"})


def test_production_refuses_the_generated_master_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MASTER_KEY_FILE or MASTER_KEYS"):
        load_settings({"ENV": "production", "VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 40})
    assert not (tmp_path / "master.keys").exists()


def test_production_starts_with_explicit_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ENV": "production",
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": "k" * 40,
            "MASTER_KEY_FILE": str(tmp_path / "prod.keys"),
            "JOURNAL_KEY_FILE": str(tmp_path / "journal.key"),
        }
    )
    assert settings.is_production


def test_production_refuses_the_generated_journal_key(tmp_path: Path) -> None:
    secrets = {"ENV": "production", "SECRET_KEY": "k" * 40, "MASTER_KEYS": "x"}
    with pytest.raises(ConfigError, match="JOURNAL_KEY_FILE must be set in production"):
        load_settings({**secrets, "VAR_DIR": str(tmp_path)})
    assert not (tmp_path / "journal.key").exists()

    auditor = load_settings(
        {**secrets, "VAR_DIR": str(tmp_path), "JOURNAL_PUBLIC_KEY_FILE": "/audit/journal.pub"}
    )
    assert (auditor.journal_key_file, auditor.journal_public_key_file) == (
        None,
        Path("/audit/journal.pub"),
    )


def test_the_demo_journal_key_is_generated_private_and_the_tsa_url_stays_out_of_repr(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {"VAR_DIR": str(tmp_path), "TSA_URL": "https://user:tsa-pass-value@tsa.example/"}
    )

    assert settings.journal_key_file == tmp_path / "journal.key"
    assert stat.S_IMODE((tmp_path / "journal.key").stat().st_mode) == 0o600
    assert settings.tsa_url.startswith("https://")
    assert "tsa-pass-value" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ENV", "staging", "ENV must be one of"),
        ("SECRET_KEY", "short", "at least 32 characters"),
        ("SMTP_PORT", "twenty-five", "SMTP_PORT must be an integer"),
        ("EXPORT_BACKGROUND_MB", "beaucoup", "EXPORT_BACKGROUND_MB must be an integer"),
        ("BILLING_DAY", "31", "BILLING_DAY must be a day of the month from 1 to 28"),
        ("INACTIVE_ACCOUNT_DAYS", "30", "INACTIVE_ACCOUNT_DAYS must be at least 90 days"),
        ("PAYMENT_BACKEND", "paypal", "PAYMENT_BACKEND must be one of dummy, payfip_ws"),
        ("PAYMENT_BACKEND", "payfip_ws", "needs PAYMENT_OPTIONS"),
        ("PAYMENT_OPTIONS", "[1, 2]", "PAYMENT_OPTIONS must be a JSON object"),
        ("PAYMENT_WINDOW", "12-2", "PAYMENT_WINDOW must read FIRST-LAST"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings({"VAR_DIR": str(tmp_path), variable: value})
    if variable == "SECRET_KEY":
        assert value not in str(caught.value)


def test_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": "topsecret-" * 4,
            "STORAGE_URL": "s3://AKIA:s3cr3t-value@minio:9000/docs",
            "SMTP_PASSWORD": "smtp-pass-value",
            "DATABASE_URL": "postgresql+psycopg://u:db-pass-value@db/portail",
        }
    )
    text = repr(settings)
    for secret in ("topsecret", "s3cr3t-value", "smtp-pass-value", "db-pass-value"):
        assert secret not in text


def _modes(var_dir: Path) -> tuple[int, int]:
    database = var_dir / "portail.db"
    return stat.S_IMODE(var_dir.stat().st_mode), stat.S_IMODE(database.stat().st_mode)


def _upgrade(var_dir: Path) -> subprocess.CompletedProcess[str]:
    """`flask db upgrade` on the embedded default, as `make run` starts it."""
    env = dict(os.environ, ENV="development", VAR_DIR=str(var_dir), FLASK_APP="web:create_app")
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_new_var_directory_is_0700_and_its_database_0600(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"

    _upgrade(var_dir)

    assert _modes(var_dir) == (0o700, 0o600)


def test_wider_modes_on_var_and_the_database_are_narrowed_at_start(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _upgrade(var_dir)
    var_dir.chmod(0o755)
    (var_dir / "portail.db").chmod(0o644)

    started = _upgrade(var_dir)

    assert _modes(var_dir) == (0o700, 0o600)
    assert "narrowed to 0700" in started.stderr and "narrowed to 0600" in started.stderr


def test_payment_settings_are_read_and_the_dummy_backend_is_refused_in_production(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {
            "VAR_DIR": str(tmp_path),
            "PAYMENT_BACKEND": "payfip_ws",
            "PAYMENT_OPTIONS": '{"numcli": "123456", "saisie": "T"}',
            "PAYMENT_WINDOW": "2-12, caisse-creche=1-28",
            "BILLING_DAY": "3",
        }
    )

    assert (settings.payment_backend, settings.payment_windows, settings.billing_day) == (
        "payfip_ws", {"": (2, 12), "caisse-creche": (1, 28)}, 3,
    )  # fmt: skip
    assert settings.payment_options == {"numcli": "123456", "saisie": "T"}
    assert "123456" not in repr(settings)
    production = {
        "ENV": "production", "VAR_DIR": str(tmp_path), "SECRET_KEY": "p" * 40,
        "MASTER_KEYS": "1:" + "A" * 43 + "=", "JOURNAL_KEY_FILE": str(tmp_path / "journal.key"),
    }  # fmt: skip
    assert load_settings(production).payment_backend == ""  # no online payment by default
    with pytest.raises(ConfigError, match="PAYMENT_BACKEND=dummy is refused in production"):
        load_settings(production | {"PAYMENT_BACKEND": "dummy"})


def test_base_url_follows_host_and_port_when_unset(tmp_path: Path) -> None:
    """`make run PORT=5001` exports HOST and PORT: e-mailed links point at the port in use."""

    def base_url(**env: str) -> str:
        return load_settings({"VAR_DIR": str(tmp_path), **env}).base_url

    assert base_url(PORT="5001") == "http://127.0.0.1:5001"
    assert base_url(HOST="localhost", PORT="8080") == "http://localhost:8080"
    assert base_url(HOST="0.0.0.0", PORT="5001") == "http://127.0.0.1:5001"  # noqa: S104
    assert base_url(HOST="::1", PORT="5001") == "http://[::1]:5001"
    assert base_url(HOST="localhost", PORT="5001", BASE_URL="https://famille.example/") == (
        "https://famille.example"  # set, BASE_URL wins
    )
    assert load_settings({"VAR_DIR": str(tmp_path), "PORT": "5001"}).served_hosts == [
        "127.0.0.1",
        "localhost",
    ]


@pytest.mark.parametrize("port", ["0", "70000", "cinq"])
def test_a_port_that_is_no_tcp_port_is_refused(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({"VAR_DIR": str(tmp_path), "PORT": port})
