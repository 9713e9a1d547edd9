"""The antivirus as the portal shows it: the start-up warning, /healthz's line, the error
pages of a document waiting for its scan or quarantined, and clamd's configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import Flask, Response
from flask.cli import AppGroup
from flask_babel import gettext as _

from coffre.antivirus import DocumentQuarantined, ScanPending, clamd_configuration
from coffre.vault import MIB
from web.errors import render_error
from web.runtime import runtime
from web.settings import Settings

log = logging.getLogger(__name__)
antivirus_cli = AppGroup("antivirus", help="The antivirus that scans every deposit (ClamAV).")


def init_app(app: Flask) -> None:
    """Say at start-up whether deposits are scanned; register the error pages and commands."""
    warn_if_unscanned(runtime(app).settings)
    app.cli.add_command(antivirus_cli)

    @app.errorhandler(ScanPending)
    def _pending(exc: ScanPending) -> tuple[Response | str, int]:
        return render_error(
            409,
            _(
                "This document is being checked by the antivirus. It can be opened as soon "
                "as the check is over, in a few moments."
            ),
        )

    @app.errorhandler(DocumentQuarantined)
    def _quarantined(exc: DocumentQuarantined) -> tuple[Response | str, int]:
        return render_error(410, quarantine_reason())


def quarantine_reason() -> str:
    """Why a quarantined document cannot be opened, in the family's words."""
    return _(
        "The antivirus found malicious software in this file: it has been quarantined and "
        "its content deleted, so nobody can open it. Deposit a sound copy of the document."
    )


def warn_if_unscanned(settings: Settings) -> None:
    """A log warning when deposits are not scanned, or clamd's signatures cannot be found."""
    if settings.clamd_socket is None:
        # The demo (`make run`) has no scanner: each of its processes would say it again.
        log.log(
            logging.DEBUG if settings.is_development else logging.WARNING,
            "CLAMD_SOCKET is not set: deposits are not scanned by an antivirus "
            "(they are recorded as not scanned and open to agents at once)",
        )
        return
    signatures = settings.clamav_signatures
    if signatures is not None and not _has_signatures(signatures):
        log.warning("CLAMAV_SIGNATURES_DIR %s holds no ClamAV signature file", signatures)


def _has_signatures(directory: Path) -> bool:
    suffixes = {".cvd", ".cld", ".cud", ".hdb", ".hsb", ".ndb", ".ldb", ".mdb", ".msb"}
    return directory.is_dir() and any(p.suffix in suffixes for p in directory.iterdir())


def scanner_status() -> str:
    """For /healthz: "ok", "unavailable" (clamd does not answer) or "not_configured"."""
    scanner = runtime().scanner
    if scanner is None:
        return "not_configured"
    return "ok" if scanner.answers() else "unavailable"


@antivirus_cli.command("clamd-conf")
def clamd_conf() -> None:
    """Print a clamd.conf for this portal: CLAMD_SOCKET, CLAMAV_SIGNATURES_DIR, no TCP."""
    settings = runtime().settings
    if settings.clamd_socket is None or settings.clamav_signatures is None:
        raise click.ClickException("set CLAMD_SOCKET and CLAMAV_SIGNATURES_DIR first")
    click.echo(
        clamd_configuration(
            settings.clamd_socket, settings.clamav_signatures, settings.max_document_mb * MIB
        ),
        nl=False,
    )
