"""Resource limits on diagram code, and the two errors the evaluator raises."""

from __future__ import annotations

MAX_SOURCE_LENGTH = 2_000
MAX_SCRIPT_LENGTH = 10_000
MAX_NODES = 500
MAX_DEPTH = 60
MAX_INT_CONSTANT = 10**12
MAX_STR_CONSTANT = 10_000
MAX_SIZE = 100_000  # items and characters in any value the evaluator builds
MAX_INT_BITS = 256
MAX_ROUND_DIGITS = 15


class UnsafeExpression(Exception):
    """The source uses a construct we refuse, or would exhaust a resource limit."""


class ExpressionError(Exception):
    """A safe expression failed on its data (unknown name, wrong type, division by zero)."""
