"""The vault fixtures serve the engine's tests too."""

from tests.coffre.conftest import foyer, keyring, other_foyer, store, vault

__all__ = ["foyer", "keyring", "other_foyer", "store", "vault"]
