from __future__ import annotations

import stat
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
        }
    )
    assert settings.is_production


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ENV", "staging", "ENV must be one of"),
        ("SECRET_KEY", "short", "at least 32 characters"),
        ("SMTP_PORT", "twenty-five", "SMTP_PORT must be an integer"),
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
