"""The vault's domain errors. Messages are for logs: ids only, never keys or contents.

`web/` maps each type to an HTTP status and a French message in one error handler.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""


class DocumentNotFound(VaultError):
    """No such document in this foyer (also raised when the caller may not know it exists)."""


class AccessDenied(VaultError):
    """The reader may not read this document: no consent for a demande of its services."""


class ConsentError(VaultError):
    """A grant or revocation that the rules refuse (closed demande, other foyer, not reusable)."""


class DocumentAlreadyUsed(ConsentError):
    """A document of a type that is not reusable already serves another demande."""

    def __init__(self, document_id: int) -> None:
        super().__init__(f"document {document_id} may serve one demande only")
        self.document_id = document_id


class MemberNotInFoyer(VaultError):
    """The document was attached to a person who is not a member of the foyer."""


class FoyerShredded(VaultError):
    """The foyer was deleted: its key is destroyed, nothing can be read or added."""


class KeyMissing(VaultError):
    """The foyer's data key is missing or cannot be unwrapped by any live master key."""
