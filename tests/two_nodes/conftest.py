"""The two-node test runs only when asked for by its marker (`make two-nodes`)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests marked `two_nodes` unless `-m` names the marker: they take minutes
    and start a dozen processes, too much for every `make test`."""
    if "two_nodes" in (config.getoption("markexpr") or ""):
        return
    long = [item for item in items if item.get_closest_marker("two_nodes") is not None]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if item.get_closest_marker("two_nodes") is None]
