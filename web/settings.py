"""Configuration: environment variables read once into a typed, frozen object.

Every variable has a safe embedded default for a demo machine (SQLite and files under
`var/`); `ENV=production` refuses to start on a generated secret or master key.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse

from coffre.journal.signing_key import create_signing_key_file
from coffre.keyring import create_keyring_file, create_private_file

ENVIRONMENTS = ("development", "test", "production")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
log = logging.getLogger(__name__)


# FranceConnect v2's identity pivot and e-mail address.
FRANCECONNECT_SCOPES = (
    "openid given_name family_name birthdate gender birthplace birthcountry email"
)


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
    # A vault whose documents add up to more is exported in the background (coffre.portability).
    export_background_mb: int = 200
    # Names the shared counters in Redis (rate limits, login failures): one per portal.
    ratelimit_key_prefix: str = "portail"
    # Back-office sessions (agents, administrators) end after this much inactivity.
    agent_idle_minutes: int = 30
    # Host names served besides BASE_URL's (TRUSTED_HOSTS); any other Host is refused.
    trusted_hosts: tuple[str, ...] = ()
    # The journal's checkpoint signing key (private, 0600) and, for an auditor, its public key.
    journal_key_file: Path | None = None
    journal_public_key_file: Path | None = None
    # An RFC 3161 timestamping authority for the checkpoints, and its trusted certificates.
    tsa_url: str = field(default="", repr=False)  # may carry credentials
    tsa_ca_file: Path | None = None
    # Online payment (facturation.payments): the eopayment backend, its options as JSON
    # (PayFiP: {"numcli": "123456", "saisie": "W"}) and the days of the month it is open.
    payment_backend: str = "dummy"  # empty: no online payment
    payment_options: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Per entity's slug ("" for every entity without its own): the days it is open.
    payment_windows: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # The worker invoices the month before from this day of each month on (BILLING_DAY).
    billing_day: int = 1
    # A family space nobody logged in to for this many days is warned twice, then closed
    # (INACTIVE_ACCOUNT_DAYS; accounts.inactivity).
    inactive_account_days: int = 365 * 3
    # Calls each API client may make, as the `limits` package writes it (API_RATE_LIMIT).
    api_rate_limit: str = "600/minute"
    # FranceConnect (web.auth.franceconnect): the provider's address (its OpenID discovery
    # document is at <url>/.well-known/openid-configuration; empty: no FranceConnect), this
    # portal's client id and secret, the scopes asked for and the eIDAS level.
    franceconnect_url: str = ""
    franceconnect_client_id: str = ""
    franceconnect_client_secret: str = field(default="", repr=False)
    franceconnect_scopes: str = FRANCECONNECT_SCOPES
    franceconnect_acr: str = "eidas1"
    # ClamAV's daemon (coffre.antivirus): its local socket (CLAMD_SOCKET; empty: deposits are
    # not scanned, which the start-up log and /healthz say) and the directory of signatures
    # the town keeps up to date, which clamd's DatabaseDirectory names (CLAMAV_SIGNATURES_DIR).
    clamd_socket: Path | None = None
    clamav_signatures: Path | None = None
    # The 2D-Doc trust list (coffre.inspection.two_d_doc): a TSL file or a directory of TSLs
    # and certificates (TWODDOC_TRUST_STORE); unset, the ANTS list that py2ddoc bundles.
    two_d_doc_trust_store: Path | None = None

    @property
    def franceconnect(self) -> bool:
        return bool(self.franceconnect_url and self.franceconnect_client_id)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        """A demo or a developer's machine (ENV unset); never production or the tests."""
        return self.env == "development"

    @property
    def shows_demo_aids(self) -> bool:
        """The demo's aids (the outbox's page, the second-factor code of the moment) stand in
        for an e-mail box and an authenticator app: only in development on a loopback
        BASE_URL, so a server left without ENV=production does not show them to the world."""
        return self.is_development and urlsplit(self.base_url).hostname in LOOPBACK_HOSTS

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def served_hosts(self) -> list[str]:
        """The Host names the portal answers: BASE_URL's, every loopback name for a
        loopback BASE_URL (the demo opened as localhost), and TRUSTED_HOSTS."""
        host = urlsplit(self.base_url).hostname or ""
        names = list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else [host]
        return names + [name for name in self.trusted_hosts if name not in names]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment, creating the demo secrets when allowed."""
    env = os.environ if environ is None else environ
    mode = env.get("ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"ENV must be one of {', '.join(ENVIRONMENTS)}")
    var_dir = Path(env.get("VAR_DIR", "var")).resolve()
    production = mode == "production"
    if not production or var_dir.exists():
        keep_private_dir(var_dir)
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
        base_url=_base_url(env),
        ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
        ratelimit_key_prefix=env.get("RATELIMIT_KEY_PREFIX") or "portail",
        session_idle_minutes=_integer(env, "SESSION_IDLE_MINUTES", 30),
        trusted_proxies=_integer(env, "TRUSTED_PROXIES", 0),
        max_document_mb=_integer(env, "MAX_DOCUMENT_MB", 20),
        foyer_quota_mb=_integer(env, "FOYER_QUOTA_MB", 500),
        export_background_mb=_integer(env, "EXPORT_BACKGROUND_MB", 200),
        agent_idle_minutes=_integer(env, "AGENT_IDLE_MINUTES", 30),
        trusted_hosts=_names(env, "TRUSTED_HOSTS"),
        journal_key_file=_journal_key_file(env, var_dir, production),
        journal_public_key_file=_path(env, "JOURNAL_PUBLIC_KEY_FILE"),
        tsa_url=env.get("TSA_URL", ""),
        tsa_ca_file=_path(env, "TSA_CA_FILE"),
        payment_backend=_payment_backend(env, production),
        payment_options=_payment_options(env),
        payment_windows=_payment_windows(env),
        billing_day=_day_of_month(env, "BILLING_DAY", 1),
        inactive_account_days=_inactive_days(env),
        api_rate_limit=_rate(env, "API_RATE_LIMIT", "600/minute"),
        franceconnect_url=env.get("FRANCECONNECT_URL", "").strip().rstrip("/"),
        franceconnect_client_id=env.get("FRANCECONNECT_CLIENT_ID", "").strip(),
        franceconnect_client_secret=env.get("FRANCECONNECT_CLIENT_SECRET", ""),
        franceconnect_scopes=env.get("FRANCECONNECT_SCOPES", FRANCECONNECT_SCOPES).strip(),
        franceconnect_acr=env.get("FRANCECONNECT_ACR", "eidas1").strip(),
        clamd_socket=_path(env, "CLAMD_SOCKET"),
        clamav_signatures=_path(env, "CLAMAV_SIGNATURES_DIR"),
        two_d_doc_trust_store=_path(env, "TWODDOC_TRUST_STORE"),
    )


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{name} must read like 600/minute, not {value!r}") from None
    return value


PAYMENT_BACKENDS = ("dummy", "payfip_ws")


def _payment_backend(env: Mapping[str, str], production: bool) -> str:
    """The online payment backend; empty: no online payment (the counter takes payments)."""
    backend = env.get("PAYMENT_BACKEND", "" if production else "dummy")
    if backend and backend not in PAYMENT_BACKENDS:
        raise ConfigError(f"PAYMENT_BACKEND must be one of {', '.join(PAYMENT_BACKENDS)}")
    if backend == "payfip_ws" and not env.get("PAYMENT_OPTIONS"):
        raise ConfigError('PAYMENT_BACKEND=payfip_ws needs PAYMENT_OPTIONS {"numcli": ...}')
    if production and backend == "dummy":
        raise ConfigError("PAYMENT_BACKEND=dummy is refused in production: set payfip_ws")
    return backend


def _payment_options(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("PAYMENT_OPTIONS", "") or "{}"
    try:
        options = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError("PAYMENT_OPTIONS must be a JSON object") from None
    if not isinstance(options, dict):
        raise ConfigError("PAYMENT_OPTIONS must be a JSON object")
    return {str(key): str(value) for key, value in options.items()}


def _inactive_days(env: Mapping[str, str]) -> int:
    days = _integer(env, "INACTIVE_ACCOUNT_DAYS", 365 * 3)
    if days < 90:  # the two warnings take 60 days
        raise ConfigError("INACTIVE_ACCOUNT_DAYS must be at least 90 days")
    return days


def _day_of_month(env: Mapping[str, str], name: str, default: int) -> int:
    day = _integer(env, name, default)
    if not 1 <= day <= 28:
        raise ConfigError(f"{name} must be a day of the month from 1 to 28")
    return day


def _payment_windows(env: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """PAYMENT_WINDOW="2-12": online payment from the 2nd to the 12th of each month, for
    every entity; "ville=2-12,caisse-ecoles=1-28": per entity (its slug); both may mix."""
    windows = {}
    for part in env.get("PAYMENT_WINDOW", "").split(","):
        if not part.strip():
            continue
        slug, _, days = part.strip().rpartition("=")
        first, _, last = days.partition("-")
        if not (first.isdigit() and last.isdigit() and 1 <= int(first) <= int(last) <= 28):
            raise ConfigError(
                "PAYMENT_WINDOW must read FIRST-LAST, days from 1 to 28 (2-12), "
                "or per entity slug=FIRST-LAST, comma-separated"
            )
        windows[slug.strip()] = (int(first), int(last))
    return windows


def keep_private_dir(var_dir: Path) -> None:
    """Create VAR_DIR 0700, or narrow a wider one: it holds the keys and the database."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if var_dir.stat().st_mode & 0o077:
        log.warning("VAR_DIR %s was open to other users: narrowed to 0700", var_dir)
        var_dir.chmod(0o700)


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


def _journal_key_file(env: Mapping[str, str], var_dir: Path, production: bool) -> Path | None:
    if value := env.get("JOURNAL_KEY_FILE"):
        return Path(value).resolve()
    if production:
        if env.get("JOURNAL_PUBLIC_KEY_FILE"):
            return None  # an auditor's copy: it verifies checkpoints, it cannot write them
        raise ConfigError(
            "JOURNAL_KEY_FILE must be set in production (the generated demo key is refused)"
        )
    path = var_dir / "journal.key"
    create_signing_key_file(path)
    return path


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value).resolve() if value else None


def _smtp(env: Mapping[str, str]) -> SmtpSettings:
    return SmtpSettings(
        host=env.get("SMTP_HOST", ""),
        port=_integer(env, "SMTP_PORT", 25),
        username=env.get("SMTP_USERNAME", ""),
        password=env.get("SMTP_PASSWORD", ""),
        starttls=env.get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
        sender=env.get("SMTP_FROM", "Portail famille <ne-pas-repondre@localhost>"),
    )


# Addresses a server listens on, not ones a browser can open: links name the loopback instead.
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]")  # noqa: S104  (compared with, never bound)


def _base_url(env: Mapping[str, str]) -> str:
    # Every e-mailed link starts with it, and its host is the one the portal answers. Unset, it
    # is the address `make run` serves (HOST and PORT), so links follow `make run PORT=5001`.
    value = (env.get("BASE_URL") or _served_address(env)).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("BASE_URL must be an absolute address: https://host[:port][/path]")
    return value


def _served_address(env: Mapping[str, str]) -> str:
    host = env.get("HOST", "").strip() or "127.0.0.1"
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = _integer(env, "PORT", 5000)
    if not 0 < port < 65536:
        raise ConfigError("PORT must be a TCP port, from 1 to 65535")
    return f"http://{host}:{port}"


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in env.get(name, "").split(",") if part.strip())


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None
