"""The two-node test runs only when asked for by its marker (`make two-nodes`)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect this folder's tests unless `-m` names `two_nodes`: they take minutes and start
    a dozen processes, too much for every `make test`."""
    if "two_nodes" in (config.getoption("markexpr") or ""):
        return
    mine = [item for item in items if HERE in item.path.parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if HERE not in item.path.parents]
