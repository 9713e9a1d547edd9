"""Giving a foyer its vault back: the ZIP export, streamed or prepared in the background."""
