"""Every `flask ...` command that docs/dossier-technique.md names exists, with its options."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from flask import Flask

from web import create_app
from web.runtime import runtime
from web.settings import load_settings

DOSSIER = Path(__file__).parents[3] / "docs" / "dossier-technique.md"
BACKTICKED = re.compile(r"`(flask [^`]+)`")
FLASK_OWN = {"run", "shell", "routes"}  # flask's own commands, not on app.cli


def named_commands(text: str) -> list[str]:
    """The command lines of the file: backticked spans and code lines starting with `flask `."""
    found: list[str] = BACKTICKED.findall(text)
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            found += [
                part.strip()
                for part in re.split(r"&&|\|\||;", line.split(" #", 1)[0])
                if part.strip().startswith("flask ")
            ]
    return found


def unresolved(app: Flask, line: str) -> str | None:
    """Why `line` does not run on this app's CLI, or None when its commands and options exist."""
    words = [w.strip("[]") for w in shlex.split(line)[1:]]
    command: click.Command = app.cli
    path = ["flask"]
    with click.Context(app.cli) as context:
        for word in words:
            if not isinstance(command, click.Group):
                break
            sub = command.get_command(context, word)
            if sub is None:
                if path == ["flask"] and word in FLASK_OWN:
                    return None
                return f"{' '.join(path)} has no command {word!r}"
            command, path = sub, [*path, word]
    if isinstance(command, click.Group) and command is app.cli:
        return "no command"
    options = {opt for param in command.params for opt in param.opts}
    for word in words:
        name = word.split("=", 1)[0]
        if name.startswith("--") and name not in options | {"--help"}:
            return f"{' '.join(path)} has no option {name}"
    return None


@pytest.fixture(scope="module")
def cli_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    var = tmp_path_factory.mktemp("var")
    app = create_app(load_settings({"ENV": "development", "VAR_DIR": str(var)}))
    yield app
    runtime(app).engine.dispose()


def test_the_technical_file_names_commands_at_all() -> None:
    lines = named_commands(DOSSIER.read_text(encoding="utf-8"))

    assert len(lines) > 20
    assert "flask coffre journal verify" in lines


def test_every_command_the_technical_file_names_exists(cli_app: Flask) -> None:
    lines = named_commands(DOSSIER.read_text(encoding="utf-8"))

    problems = {line: unresolved(cli_app, line) for line in lines}

    assert {line: why for line, why in problems.items() if why} == {}


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("flask coffre verifier", "flask coffre has no command 'verifier'"),
        ("flask coffre verify --tout", "flask coffre verify has no option --tout"),
        ("flask journal verify", "flask has no command 'journal'"),
    ],
)
def test_a_drifted_command_is_caught(cli_app: Flask, line: str, why: str) -> None:
    assert unresolved(cli_app, line) == why
