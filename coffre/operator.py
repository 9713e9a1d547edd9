"""The operator: whoever runs the vault's commands on the server, named in every entry they cause.

The operator has no account (the commands run without a login), so the journal names them by
the name they give, and an act that reads or destroys a document also carries its reason.
Both are short, printable texts: the journal holds ids, event types and these, never contents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coffre.errors import VaultError
from coffre.journal.chain import Detail

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
REASON_CHARS = 200


class OperatorRefused(VaultError):
    """An operator's name or reason that the journal cannot take as given."""


@dataclass(frozen=True)
class Operator:
    """The person running an operator command, as the journal names them."""

    name: str

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise OperatorRefused(
                "the operator's name must be 1 to 64 letters, digits or . _ @ - "
                "(a login, not a full name)"
            )

    def details(self, reason: str | None = None) -> dict[str, Detail]:
        """What an entry of this operator's act adds to its details."""
        details: dict[str, Detail] = {"operator": self.name}
        if reason is not None:
            details["reason"] = reason
        return details


def checked_reason(reason: str) -> str:
    """The reason for a read or a destruction, stripped; refused if empty, long or not printable."""
    text = reason.strip()
    if not text:
        raise OperatorRefused("a reason is required")
    if len(text) > REASON_CHARS:
        raise OperatorRefused(f"the reason must be at most {REASON_CHARS} characters")
    if not text.isprintable():
        raise OperatorRefused("the reason must be one line of printable text")
    return text
