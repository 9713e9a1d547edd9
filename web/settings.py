"""Configuration: environment variables read once into a typed, frozen object.

Every variable has a safe embedded default for a demo machine (SQLite and files under
`var/`); `ENV=production` refuses to start on a generated secret or master key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coffre.keyring import create_keyring_file, create_private_file

ENVIRONMENTS = ("development", "test", "production")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the variable (never its value)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    starttls: bool
    sender: str


@dataclass(frozen=True)
class Settings:
    env: str
    var_dir: Path
    database_url: str = field(repr=False)  # may carry a password
    storage_url: str = field(repr=False)  # may carry S3 credentials
    master_key_file: Path | None
    master_keys: str | None = field(repr=False)
    secret_key: str = field(repr=False)
    smtp: SmtpSettings
    base_url: str
    ratelimit_storage_uri: str = field(repr=False)
    session_idle_minutes: int
    trusted_proxies: int
    max_document_mb: int = 20
    foyer_quota_mb: int = 500
    # Back-office sessions (agents, administrators) end after this much inactivity.
    agent_idle_minutes: int = 30

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment, creating the demo secrets when allowed."""
    env = os.environ if environ is None else environ
    mode = env.get("ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"ENV must be one of {', '.join(ENVIRONMENTS)}")
    var_dir = Path(env.get("VAR_DIR", "var")).resolve()
    production = mode == "production"
    master_file, master_keys = _master_key_source(env, var_dir, production)
    return Settings(
        env=mode,
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'portail.db'}",
        storage_url=env.get("STORAGE_URL") or f"file://{var_dir / 'objects'}",
        master_key_file=master_file,
        master_keys=master_keys,
        secret_key=_secret_key(env, var_dir, production),
        smtp=_smtp(env),
        base_url=env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
        session_idle_minutes=_integer(env, "SESSION_IDLE_MINUTES", 30),
        trusted_proxies=_integer(env, "TRUSTED_PROXIES", 0),
        max_document_mb=_integer(env, "MAX_DOCUMENT_MB", 20),
        foyer_quota_mb=_integer(env, "FOYER_QUOTA_MB", 500),
        agent_idle_minutes=_integer(env, "AGENT_IDLE_MINUTES", 30),
    )


def _secret_key(env: Mapping[str, str], var_dir: Path, production: bool) -> str:
    if value := env.get("SECRET_KEY"):
        if len(value) < 32:
            raise ConfigError("SECRET_KEY must hold at least 32 characters")
        return value
    if production:
        raise ConfigError("SECRET_KEY must be set in production (a generated key is refused)")
    path = var_dir / "secret_key"
    create_private_file(path, secrets.token_urlsafe(48) + "\n")
    return path.read_text(encoding="ascii").strip()


def _master_key_source(
    env: Mapping[str, str], var_dir: Path, production: bool
) -> tuple[Path | None, str | None]:
    if value := env.get("MASTER_KEYS"):
        return None, value
    if value := env.get("MASTER_KEY_FILE"):
        return Path(value).resolve(), None
    if production:
        raise ConfigError(
            "MASTER_KEY_FILE or MASTER_KEYS must be set in production "
            "(the generated demo keyring is refused)"
        )
    path = var_dir / "master.keys"
    create_keyring_file(path)
    return path, None


def _smtp(env: Mapping[str, str]) -> SmtpSettings:
    return SmtpSettings(
        host=env.get("SMTP_HOST", ""),
        port=_integer(env, "SMTP_PORT", 25),
        username=env.get("SMTP_USERNAME", ""),
        password=env.get("SMTP_PASSWORD", ""),
        starttls=env.get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
        sender=env.get("SMTP_FROM", "Portail famille <ne-pas-repondre@localhost>"),
    )


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None
