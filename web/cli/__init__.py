"""The `flask` commands: migrations, demo data, the worker, procedures, the vault's upkeep."""

from web.cli.commands import init_app

__all__ = ["init_app"]
