"""The lottery itself: a seed anyone can recompute, and the order it gives.

The seed is the SHA-256 of the course's code, the season and a value published before the
draw (the numbers drawn in public at the town hall, say): nobody can choose it after seeing
the candidates, and anyone who has the three can replay the draw with Python's
`random.Random(int(seed, 16)).shuffle` over the candidates' demande ids in ascending order.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable


def draw_seed(course: str, season: str, published: str) -> str:
    """The draw's seed (hex): same course, season and published value, same seed."""
    text = f"{course}|{season}|{published.strip()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def drawn_order(candidates: Iterable[int], seed: str) -> list[int]:
    """The candidates (demande ids) in drawn order: sorted first, so that the order they were
    read in never matters, then shuffled by a generator seeded with `seed`."""
    order = sorted(set(candidates))
    # A public, replayable draw: a seeded generator on purpose, not a source of secrets.
    random.Random(int(seed, 16)).shuffle(order)  # noqa: S311
    return order


def fingerprint(order: Iterable[int]) -> str:
    """A short hash of an order, journaled so that the stored order can be checked."""
    return hashlib.sha256(json.dumps(list(order)).encode("ascii")).hexdigest()
