"""The blueprint the login, account and second-factor pages register on."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__)
